//! Turns tests (inline or dataset rows) into runnable cases: defaults merged,
//! prompt rendered, assertions compiled, id assigned and checked unique.

use std::sync::Arc;

use minijinja::value::Serde;
use serde_json::{Map, Value};

use crate::assertion::{Assertion, AssertionSpec, Rule, Script, ScriptValueError, SpecError};
use crate::config::{ChatMessage, Choices, Config, TestSpec, transform_script};
use crate::error::{Error, Result};
use crate::ingest::dataset::Location;
use crate::ingest::ids::Seen;
use crate::ingest::prompt::{Prompts, Rendered, TemplateError};
use crate::record::{IdKind, RowIdentity, short_hash};
use crate::script::{ScriptError, Scripts};

/// A case ready to run.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    /// Position in the suite's order (inline tests first, then datasets).
    pub ordinal: u64,
    pub source: String,
    pub description: Option<String>,
    /// Index into the run's provider list.
    pub provider: usize,
    /// The rendered prompt (a chat prompt's messages as JSON).
    pub prompt: Option<String>,
    /// The prompt's name in `[prompts]`.
    pub prompt_name: Option<String>,
    /// A chat prompt's rendered messages.
    pub messages: Option<Arc<Vec<ChatMessage>>>,
    /// `PROMPT @ PROVIDER` when the test runs for several prompts or
    /// providers: with the id and the repeat, it tells the cases apart.
    pub variant: Option<String>,
    /// A given output: scored as it is, no provider call.
    pub output: Option<String>,
    pub assertions: Vec<Arc<Assertion>>,
    pub threshold: Option<f64>,
    /// A hash of the assertions, the threshold and the output transform
    /// (see [`scoring_hash`]).
    pub scoring_hash: String,
    /// Where the test was read and a hash of its inputs, which pair it
    /// with the same row in another run when its derived id changes.
    pub identity: RowIdentity,
    /// The variables the prompt was rendered with, for scripts.
    pub vars: Arc<Map<String, Value>>,
    /// The script that reshapes the output before it is checked.
    pub transform: Option<Arc<Script>>,
}

/// A hash of what decides a case's verdict: each assertion (type,
/// expected value, weight), the threshold and the output transform.
pub fn scoring_hash(
    assertions: &[Arc<Assertion>],
    threshold: Option<f64>,
    transform: Option<&Script>,
) -> String {
    let mut text = String::new();
    for a in assertions {
        text.push_str(&format!("{a}\u{1f}{}\u{1e}", a.weight));
        if let Some(t) = &a.transform {
            text.push_str(&format!("transform {t}\u{1e}"));
        }
    }
    text.push_str(&format!("{threshold:?}"));
    if let Some(t) = transform {
        text.push_str(&format!("\u{1e}transform {t}"));
    }
    short_hash(text.as_bytes())
}

/// A shared assertion: compiled once, or compiled per case when its value
/// is a template.
enum DefaultAssertion {
    Fixed(Arc<Assertion>),
    Templated(AssertionSpec),
}

/// Why a test did not become a case.
pub enum Rejection {
    /// The row is bad; report it and skip it (fatal under `--strict`).
    Row(String),
    /// The suite cannot go on (a duplicate id, a prompt variable the case lacks).
    Fatal(Error),
}

/// Why part of a test (a templated assertion, a transform) cannot be
/// used; the caller names the key, and the row or the config.
#[derive(Debug, thiserror::Error)]
enum PartError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    ScriptValue(#[from] ScriptValueError),
    #[error(transparent)]
    Script(#[from] ScriptError),
}

/// What the tests of one source share: `[defaults]`, plus a dataset's own
/// prompts, providers and assertions.
struct Layer {
    /// The providers a test runs on when it names none; `None` when the
    /// suite has several and named none.
    providers: Option<Vec<usize>>,
    /// The prompts a test uses when it names none.
    prompts: Option<Vec<String>>,
    assertions: Vec<(String, DefaultAssertion)>,
}

/// Where a test comes from, so the right shared settings apply.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// An inline `[[tests]]` entry.
    Inline,
    /// A row of `[[datasets]]` entry number `n`.
    Dataset(usize),
}

/// Builds cases one at a time, remembering ids to reject duplicates.
pub struct Builder<'a> {
    config: &'a Config,
    prompts: &'a Prompts,
    scripts: &'a Scripts,
    provider_names: Vec<String>,
    needs_prompt: Vec<bool>,
    /// Inline tests first, then one layer per dataset.
    layers: Vec<Layer>,
    /// The ids seen so far, 8 bytes a case.
    ids: Seen,
    next_ordinal: u64,
}

/// The defaults' layer, then one per dataset on top of it: which prompts
/// and providers a test runs on, and the assertions it inherits.
fn layers(config: &Config, prompts: &Prompts, provider_names: &[String]) -> Result<Vec<Layer>> {
    let positions = |names: Vec<String>| -> Option<Vec<usize>> {
        names
            .iter()
            .map(|name| provider_names.iter().position(|n| n == name))
            .collect()
    };
    let default_providers = match config.defaults.provider_choice() {
        Some(names) => positions(names),
        None if provider_names.len() == 1 => Some(vec![0]),
        None => None,
    };
    let default_prompts = match config.defaults.prompt_choice() {
        Some(names) => Some(names),
        None if config.prompts.len() == 1 => config.prompts.keys().next().map(|n| vec![n.clone()]),
        None => None,
    };
    let defaults = || -> Result<Vec<(String, DefaultAssertion)>> {
        config
            .defaults
            .assert
            .iter()
            .enumerate()
            .map(|(i, spec)| compile(config, prompts, format!("defaults.assert[{i}]"), spec))
            .collect()
    };
    let mut layers = Vec::with_capacity(config.datasets.len() + 1);
    layers.push(Layer {
        providers: default_providers.clone(),
        prompts: default_prompts.clone(),
        assertions: defaults()?,
    });
    for (d, dataset) in config.datasets.iter().enumerate() {
        let mut assertions = defaults()?;
        for (i, spec) in dataset.assert.iter().enumerate() {
            assertions.push(compile(
                config,
                prompts,
                format!("datasets[{d}].assert[{i}]"),
                spec,
            )?);
        }
        layers.push(Layer {
            providers: dataset
                .provider_choice()
                .and_then(&positions)
                .or_else(|| default_providers.clone()),
            prompts: dataset.prompt_choice().or_else(|| default_prompts.clone()),
            assertions,
        });
    }
    Ok(layers)
}

/// Checks an assertion's scripts (its code, its own transform): a file
/// that is there and compiles.
fn check_scripts(scripts: &Scripts, assertion: &Assertion) -> std::result::Result<(), ScriptError> {
    if let Rule::Script { script, .. } = &assertion.rule {
        scripts.check(script, None)?;
    }
    if let Some(transform) = &assertion.transform {
        scripts.check(transform, Some(crate::script::Target::Output))?;
    }
    Ok(())
}

/// Checks a transform's script.
fn check_transform(scripts: &Scripts, text: Option<&str>) -> std::result::Result<(), PartError> {
    let Some(text) = text else {
        return Ok(());
    };
    let script = transform_script(text)?;
    scripts.check(&script, Some(crate::script::Target::Output))?;
    Ok(())
}

/// Checks a templated assertion's texts against the prompt environment, so
/// a broken template fails the config, not every case.
fn check_templates(
    config: &Config,
    prompts: &Prompts,
    key: &str,
    spec: &AssertionSpec,
) -> Result<()> {
    if spec.is_templated() {
        for text in spec.texts() {
            prompts.check(text).map_err(|m| {
                Error::input(format!(
                    "{}: {key}: invalid template: {m}",
                    config.path.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// A default assertion, compiled once unless it is a template that each
/// case renders.
fn compile(
    config: &Config,
    prompts: &Prompts,
    key: String,
    spec: &AssertionSpec,
) -> Result<(String, DefaultAssertion)> {
    check_templates(config, prompts, &key, spec)?;
    let compiled = if spec.is_templated() {
        DefaultAssertion::Templated(spec.clone())
    } else {
        DefaultAssertion::Fixed(Arc::new(
            spec.compile()
                .map_err(|m| Error::input(format!("{}: {key}: {m}", config.path.display())))?,
        ))
    };
    Ok((key, compiled))
}

impl<'a> Builder<'a> {
    /// `providers` are the run's providers in order, each with whether it
    /// needs a rendered prompt; a case's provider is an index into it.
    /// Every script the config names is checked here (its file is there
    /// and compiles), so a broken one fails the config, not every case.
    pub fn new(
        config: &'a Config,
        prompts: &'a Prompts,
        providers: &[(String, bool)],
        scripts: &'a Scripts,
    ) -> Result<Builder<'a>> {
        let provider_names: Vec<String> = providers.iter().map(|(n, _)| n.clone()).collect();
        let needs_prompt = providers.iter().map(|(_, needs)| *needs).collect();
        let config_error = |key: &str, m: &dyn std::fmt::Display| {
            Error::input(format!("{}: {key}: {m}", config.path.display()))
        };
        for (key, text) in [
            ("defaults.transform", &config.defaults.transform),
            ("defaults.transform-vars", &config.defaults.transform_vars),
        ] {
            check_transform(scripts, text.as_deref()).map_err(|m| config_error(key, &m))?;
        }
        for (i, (test, _)) in config.tests.iter().enumerate() {
            for (j, spec) in test.assert.iter().enumerate() {
                check_templates(config, prompts, &format!("tests[{i}].assert[{j}]"), spec)?;
                if !spec.is_templated()
                    && let Ok(assertion) = spec.compile()
                {
                    check_scripts(scripts, &assertion)
                        .map_err(|m| config_error(&format!("tests[{i}].assert[{j}]"), &m))?;
                }
            }
            for (key, text) in [
                ("transform", &test.transform),
                ("transform-vars", &test.transform_vars),
            ] {
                check_transform(scripts, text.as_deref())
                    .map_err(|m| config_error(&format!("tests[{i}].{key}"), &m))?;
            }
        }
        let layers = layers(config, prompts, &provider_names)?;
        for layer in &layers {
            for (key, assertion) in &layer.assertions {
                if let DefaultAssertion::Fixed(a) = assertion {
                    check_scripts(scripts, a).map_err(|m| config_error(key, &m))?;
                }
            }
        }
        Ok(Builder {
            config,
            prompts,
            scripts,
            provider_names,
            needs_prompt,
            layers,
            ids: Seen::default(),
            next_ordinal: 0,
        })
    }

    /// Builds the cases for `test`, read at `at`: one, or one per prompt and
    /// provider when the test (or its dataset, or the defaults) names
    /// several.
    pub fn build(
        &mut self,
        test: TestSpec,
        at: &Location,
        origin: Origin,
    ) -> std::result::Result<Vec<Case>, Rejection> {
        let layer = match origin {
            Origin::Inline => 0,
            Origin::Dataset(n) => n + 1,
        };
        let providers = self.providers(&test, layer, at)?;
        let prompts = self.prompt_names(&test, layer);
        let vars = self.vars(&test, at)?;
        let context = minijinja::Value::from(Serde(&vars));
        let assertions = self.assertions(&test, layer, &context, at)?;
        let threshold = test.threshold.or(self.config.defaults.threshold);
        let transform = self.transform(&test, at)?;
        let id = self.case_id(&test, at)?;
        let identity = self.identity(&test, at);
        let matrix = prompts.len() * providers.len() > 1;
        let source = at.to_string();
        let scoring_hash = scoring_hash(&assertions, threshold, transform.as_deref());
        let vars = Arc::new(vars);
        // The prompt is rendered whenever it can be, so it is stored with
        // the result; it must render only when a provider will be called
        // with it. Rendered once per prompt, whatever the providers.
        let needs_prompt = |provider: usize| test.output.is_none() && self.needs_prompt[provider];
        let any_needs = providers.iter().any(|&p| needs_prompt(p));
        let mut cases = Vec::with_capacity(prompts.len() * providers.len());
        for prompt_name in &prompts {
            let rendered = match prompt_name {
                Some(name) => self.render_prompt(name, &vars, &context, any_needs, at)?,
                None => None,
            };
            let text = rendered.as_ref().map(|r| r.text.clone());
            let messages = rendered.and_then(|r| r.messages).map(Arc::new);
            for &provider in &providers {
                if prompt_name.is_none() && needs_prompt(provider) {
                    return Err(fatal(
                        at,
                        format!(
                            "provider '{}' needs a prompt and none is set; add [prompts] and set defaults.prompt",
                            self.provider_names[provider]
                        ),
                    ));
                }
                cases.push(Case {
                    id: id.clone(),
                    ordinal: self.next_ordinal,
                    source: source.clone(),
                    description: test.description.clone(),
                    provider,
                    prompt: text.clone(),
                    messages: messages.clone(),
                    prompt_name: prompt_name.clone(),
                    variant: matrix.then(|| {
                        format!(
                            "{} @ {}",
                            prompt_name.as_deref().unwrap_or("-"),
                            self.provider_names[provider]
                        )
                    }),
                    output: test.output.clone(),
                    scoring_hash: scoring_hash.clone(),
                    assertions: assertions.clone(),
                    threshold,
                    identity: identity.clone(),
                    vars: Arc::clone(&vars),
                    transform: transform.clone(),
                });
                self.next_ordinal += 1;
            }
        }
        Ok(cases)
    }

    /// The prompts the test runs with: its own, else its dataset's or the
    /// defaults'; `None` alone when none is named.
    fn prompt_names(&self, test: &TestSpec, layer: usize) -> Vec<Option<String>> {
        match test
            .prompt_choice()
            .or_else(|| self.layers[layer].prompts.clone())
        {
            Some(names) => names.into_iter().map(Some).collect(),
            None => vec![None],
        }
    }

    /// The test's variables over the defaults', then what its (or the
    /// defaults') `transform-vars` script returns laid over them.
    fn vars(
        &self,
        test: &TestSpec,
        at: &Location,
    ) -> std::result::Result<Map<String, Value>, Rejection> {
        let mut vars: Map<String, Value> = self.config.defaults.vars.clone();
        vars.extend(test.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        let Some(text) =
            test.transform_vars
                .as_deref()
                .or(self.config.defaults.transform_vars.as_deref())
        else {
            return Ok(vars);
        };
        let script =
            transform_script(text).map_err(|m| Rejection::Row(format!("transform-vars: {m}")))?;
        let context =
            serde_json::json!({ "prompt": {}, "uuid": format!("{:032x}", fastrand::u128(..)) });
        let more = self
            .scripts
            .transform_vars(&script, &vars, &context.to_string())
            .map_err(|e| script_rejection(at, "transform-vars", e))?;
        vars.extend(more);
        Ok(vars)
    }

    /// The test's output transform, else the defaults'.
    fn transform(
        &self,
        test: &TestSpec,
        at: &Location,
    ) -> std::result::Result<Option<Arc<Script>>, Rejection> {
        let Some(text) = test
            .transform
            .as_deref()
            .or(self.config.defaults.transform.as_deref())
        else {
            return Ok(None);
        };
        let script =
            transform_script(text).map_err(|m| Rejection::Row(format!("transform: {m}")))?;
        self.scripts
            .check(&script, Some(crate::script::Target::Output))
            .map_err(|e| script_rejection(at, "transform", e))?;
        Ok(Some(Arc::new(script)))
    }

    /// The test's providers, else its source's.
    fn providers(
        &self,
        test: &TestSpec,
        layer: usize,
        at: &Location,
    ) -> std::result::Result<Vec<usize>, Rejection> {
        match test.provider_choice() {
            Some(names) => names
                .iter()
                .map(|name| {
                    self.provider_names
                        .iter()
                        .position(|n| n == name)
                        .ok_or_else(|| {
                            Rejection::Row(format!(
                                "unknown provider '{name}'; defined: {}",
                                self.provider_names.join(", ")
                            ))
                        })
                })
                .collect(),
            None => self.layers[layer].providers.clone().ok_or_else(|| {
                fatal(
                    at,
                    format!(
                        "several providers are defined ({}); set defaults.provider or the test's provider",
                        self.provider_names.join(", ")
                    ),
                )
            }),
        }
    }

    /// Prompt `name` rendered with the case's variables; `None` when a
    /// variable is missing and the provider does not need the prompt.
    fn render_prompt(
        &self,
        name: &str,
        vars: &Map<String, Value>,
        context: &minijinja::Value,
        needs_prompt: bool,
        at: &Location,
    ) -> std::result::Result<Option<Rendered>, Rejection> {
        if !self.config.prompts.contains_key(name) {
            return Err(Rejection::Row(format!("unknown prompt '{name}'")));
        }
        let missing = self.prompts.missing(name, |v| vars.contains_key(v));
        if missing.is_empty() {
            return self
                .prompts
                .render_prompt(name, context)
                .map(Some)
                .map_err(|m| fatal(at, format!("prompt '{name}': {m}")));
        }
        if needs_prompt {
            return Err(fatal(
                at,
                format!(
                    "prompt '{name}' uses {}, which this test does not set (in its vars or defaults.vars)",
                    names(&missing)
                ),
            ));
        }
        Ok(None)
    }

    /// The source's shared assertions, then the test's own, compiled.
    fn assertions(
        &self,
        test: &TestSpec,
        layer: usize,
        context: &minijinja::Value,
        at: &Location,
    ) -> std::result::Result<Vec<Arc<Assertion>>, Rejection> {
        let shared = &self.layers[layer].assertions;
        let mut assertions = Vec::with_capacity(shared.len() + test.assert.len());
        for (key, assertion) in shared {
            assertions.push(match assertion {
                DefaultAssertion::Fixed(a) => Arc::clone(a),
                DefaultAssertion::Templated(spec) => Arc::new(
                    self.compile_templated(spec, context)
                        .map_err(|m| fatal(at, format!("{key}: {m}")))?,
                ),
            });
        }
        for (i, spec) in test.assert.iter().enumerate() {
            let compiled = if spec.is_templated() {
                self.compile_templated(spec, context)
            } else {
                spec.compile().map_err(PartError::from)
            };
            let compiled = compiled.map_err(|m| Rejection::Row(format!("assert[{i}]: {m}")))?;
            check_scripts(self.scripts, &compiled)
                .map_err(|e| script_rejection(at, &format!("assert[{i}]"), e))?;
            assertions.push(Arc::new(compiled));
        }
        Ok(assertions)
    }

    /// The test's id (unique across the suite), or one derived from its content.
    fn case_id(
        &mut self,
        test: &TestSpec,
        at: &Location,
    ) -> std::result::Result<String, Rejection> {
        match &test.id {
            Some(id) if id.is_empty() => Err(Rejection::Row("id is empty".into())),
            Some(id) => {
                if !self.ids.insert(id) {
                    return Err(fatal(
                        at,
                        format!("duplicate case id '{id}': ids must be unique across the suite"),
                    ));
                }
                Ok(id.clone())
            }
            None if self.config.suite.require_ids => Err(Rejection::Row(
                "missing id (suite.require-ids is set)".into(),
            )),
            None => Ok(self.derive_id(test, at)),
        }
    }

    /// Where the test was read (its file relative to the config's folder,
    /// so every checkout names it alike) and a hash of its own variables.
    fn identity(&self, test: &TestSpec, at: &Location) -> RowIdentity {
        let file = at.file.strip_prefix(&self.config.dir).unwrap_or(&at.file);
        let file = file
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let inputs = serde_json::to_vec(&test.vars).expect("variables serialize to JSON");
        RowIdentity {
            id: if test.id.is_some() {
                IdKind::Given
            } else {
                IdKind::Derived
            },
            row: format!("{file}:{}", at.line),
            inputs_hash: short_hash(&inputs),
        }
    }

    fn compile_templated(
        &self,
        spec: &AssertionSpec,
        context: &minijinja::Value,
    ) -> std::result::Result<Assertion, PartError> {
        Ok(spec
            .render_value(|s| self.prompts.render_str(s, context))?
            .compile()?)
    }

    /// An id from the test's content, so it stays the same when rows are
    /// added or moved (a line number would not); identical rows get `-2`, `-3`….
    fn derive_id(&mut self, test: &TestSpec, at: &Location) -> String {
        let content = serde_json::to_vec(test).expect("a test serializes to JSON");
        let stem = at
            .file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("case");
        let base = format!("{stem}-{}", &blake3::hash(&content).to_hex()[..12]);
        let mut id = base.clone();
        let mut n = 1;
        while !self.ids.insert(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        id
    }
}

/// A script that cannot be used rejects its row; no Python at all stops
/// the suite.
fn script_rejection(at: &Location, key: &str, error: ScriptError) -> Rejection {
    match error {
        ScriptError::NoPython(_) => fatal(at, format!("{key}: {error}")),
        other => Rejection::Row(format!("{key}: {other}")),
    }
}

/// A rejection that stops the suite, located at the row.
fn fatal(at: &Location, message: String) -> Rejection {
    Rejection::Fatal(Error::input(format!("{at}: {message}")))
}

fn names(vars: &[&str]) -> String {
    let quoted: Vec<String> = vars.iter().map(|v| format!("'{v}'")).collect();
    match quoted.as_slice() {
        [one] => format!("variable {one}"),
        _ => format!("variables {}", quoted.join(", ")),
    }
}
