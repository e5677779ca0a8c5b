//! promptfoo tests and `defaultTest` → `[defaults]`, `[[tests]]` and
//! generated JSONL datasets.
//!
//! Inline tests become `[[tests]]`; test files (CSV, YAML, JSON, JSONL, and
//! globs of them) become JSONL datasets of structured rows beside the suite,
//! because their promptfoo semantics (`__expected` columns, array vars that
//! expand into several tests, `file://` vars) must be resolved first.
//! What promptfoo does to variables at render time is done here once:
//! `file://` values are loaded (text trimmed; YAML as JSON text), one trailing
//! newline is removed, `{{ name }}` inside a value is replaced by that
//! variable (up to 5 rounds, as `resolveVariables` does), and a list of texts
//! expands the test into one test per item (the cartesian product over all
//! such variables, as `generateVarCombinations` does).

mod csv;
mod default_test;
mod files;
mod test;
mod vars;

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::assertions::{self, Graded, Origin};
use super::providers::{self, GraderKind};
use super::template::LOAD_SUFFIX;
use super::yaml::{Kind, Node};
use super::{Ctx, Place};
use crate::assertion::{AssertionSpec, Code, Language, Script};
use crate::config::{
    Defaults as DefaultsSpec, GradingSpec, HttpSpec, PromptSpec, ProviderSpec, ResponseFormat,
    TestSpec,
};
use default_test::Graders;
use files::file_tests;
use test::convert_test;

/// The converted tests: `[grading]`, `[defaults]`, the inline `[[tests]]`
/// (test files become datasets, kept in [`Ctx`]).
#[derive(Debug, Default)]
pub struct Converted {
    pub grading: GradingSpec,
    pub defaults: DefaultsSpec,
    pub tests: Vec<TestSpec>,
}

/// What `defaultTest` contributes to every test.
#[derive(Debug, Default)]
struct Defaults {
    /// defaultTest vars as written (merged into each test when they need
    /// per-test treatment).
    vars: Vec<(String, Node)>,
    /// Whether `vars` are emitted in `[defaults]` (else merged per test).
    vars_in_defaults: bool,
}

pub fn convert_tests(ctx: &mut Ctx, root: &Node) -> Converted {
    let mut out = Converted::default();
    let mut graded = Graded::default();
    let mut dflt = Defaults::default();
    let mut graders: Graders = (None, None);
    if let Some(dt) = root.get("defaultTest") {
        match default_test::convert(ctx, dt, &mut out, &mut dflt, &mut graded) {
            Some(g) => graders = g,
            None => return out,
        }
    }
    if let Some(vars) = default_test::defaults_vars(&dflt) {
        out.defaults.vars = vars;
    }
    match root.get("tests") {
        None => ctx.skip(
            Place::new(&ctx.config_name, None, "tests"),
            "tests",
            "none: the suite has no cases",
        ),
        Some(tests) => convert_tests_value(ctx, tests, &dflt, &mut out, &mut graded),
    }
    add_default_graders(ctx, graded, graders, &mut out);
    add_load_vars_everywhere(ctx, &mut out);
    out
}

/// The `tests` value: a path, a list of tests and paths, or `{ path }`.
fn convert_tests_value(
    ctx: &mut Ctx,
    tests: &Node,
    dflt: &Defaults,
    out: &mut Converted,
    graded: &mut Graded,
) {
    let place = Place::config(ctx, tests.line, "tests");
    match &tests.kind {
        Kind::Str(path) => file_tests(ctx, path, &place, dflt, graded),
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = place.child(item.line, &format!("[{i}]"));
                convert_tests_item(ctx, item, &p, dflt, out, graded);
            }
        }
        Kind::Map(_) if tests.get("path").and_then(Node::as_str).is_some() => {
            let path = tests.get("path").and_then(Node::as_str).unwrap();
            file_tests(ctx, path, &place, dflt, graded);
        }
        _ => ctx.skip(place, "tests", "neither a path, a list nor {path}"),
    }
}

/// One item of the `tests` list: a path, `{ path, config }`, or a test.
fn convert_tests_item(
    ctx: &mut Ctx,
    item: &Node,
    p: &Place,
    dflt: &Defaults,
    out: &mut Converted,
    graded: &mut Graded,
) {
    match &item.kind {
        Kind::Str(path) => file_tests(ctx, path, p, dflt, graded),
        Kind::Map(_) if item.get("path").and_then(Node::as_str).is_some() => {
            let path = item.get("path").and_then(Node::as_str).unwrap();
            if item.get("config").is_some() {
                ctx.skip(
                    p.clone(),
                    "tests config",
                    "generator config is for script test files",
                );
            }
            file_tests(ctx, path, p, dflt, graded);
        }
        Kind::Map(_) => {
            let mut rows = convert_test(ctx, item, p, Origin::Yaml, dflt, graded);
            for row in rows.iter_mut() {
                strip_nulls(&mut row.vars);
                row.assert = fit_for_toml(ctx, std::mem::take(&mut row.assert), p);
            }
            out.tests.extend(rows);
        }
        _ => ctx.skip(p.clone(), "test", "neither a path nor a test"),
    }
}

/// Graders for graded assertions that name none: defaultTest's, else
/// promptfoo's defaults.
fn add_default_graders(ctx: &mut Ctx, graded: Graded, graders: Graders, out: &mut Converted) {
    if graded.judge && out.grading.judge.is_none() {
        let name = graders
            .0
            .unwrap_or_else(|| default_provider(ctx, GraderKind::Judge));
        out.grading.judge = Some(name);
    }
    if graded.embeddings && out.grading.embeddings.is_none() {
        let name = graders
            .1
            .unwrap_or_else(|| default_provider(ctx, GraderKind::Embeddings));
        out.grading.embeddings = Some(name);
    }
}

/// `x | load` in templates: every vars map that sets x (defaults, tests and
/// dataset rows) gets an `x__json` holding the parsed value.
fn add_load_vars_everywhere(ctx: &mut Ctx, out: &mut Converted) {
    let load_vars = ctx.load_vars.clone();
    if load_vars.is_empty() {
        return;
    }
    add_load_vars(&mut out.defaults.vars, &load_vars);
    for t in out.tests.iter_mut() {
        add_load_vars(&mut t.vars, &load_vars);
    }
    for (_, rows) in ctx.datasets.iter_mut() {
        for row in rows.iter_mut() {
            add_load_vars(&mut row.vars, &load_vars);
        }
    }
}

fn add_load_vars(vars: &mut Map<String, Value>, load_vars: &BTreeSet<String>) {
    for name in load_vars {
        if let Some(Value::String(s)) = vars.get(name) {
            // JSON.parse; a value that is not JSON makes promptfoo's render fail.
            let parsed = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            vars.insert(format!("{name}{LOAD_SUFFIX}"), null_to_empty(parsed));
        }
    }
}

/// A default grader for graded assertions that name none: promptfoo's own
/// (added once, with a note saying which).
fn default_provider(ctx: &mut Ctx, kind: GraderKind) -> String {
    let openai = |model: &str, response_format| {
        ProviderSpec::Openai(HttpSpec {
            model: Some(model.to_string()),
            response_format,
            ..HttpSpec::default()
        })
    };
    let (name, spec, why) = match kind {
        GraderKind::Judge => (
            "promptfoo-default-grader",
            openai(providers::DEFAULT_GRADER_MODEL, Some(ResponseFormat::Json)),
            format!(
                "no grader was set, so promptfoo's default is used: OpenAI {} in JSON mode (promptfoo picks another vendor's default when no OpenAI key is set, and the model varies by promptfoo version)",
                providers::DEFAULT_GRADER_MODEL
            ),
        ),
        GraderKind::Embeddings => (
            "promptfoo-default-embeddings",
            openai(providers::DEFAULT_EMBEDDING_MODEL, None),
            format!(
                "no embedding provider was set, so promptfoo's default is used: OpenAI {}",
                providers::DEFAULT_EMBEDDING_MODEL
            ),
        ),
    };
    if !ctx.providers.iter().any(|p| p.name == name) {
        let place = Place::new(&ctx.config_name, None, "grading");
        ctx.note(place, name, &why);
        ctx.providers.push(providers::Provider {
            name: name.to_string(),
            aliases: vec![],
            spec,
            comments: vec![],
        });
    }
    name.to_string()
}

/// The transforms a test's (or defaultTest's) `options` name.
#[derive(Debug, Default, Clone)]
pub(super) struct Transforms {
    pub(super) output: Option<String>,
    pub(super) vars: Option<String>,
}

/// `options` of defaultTest (into `[grading]`) or of a test (the test's
/// grader), and their transforms. Returns the judge and embeddings
/// provider names.
pub(super) fn grading_options(
    ctx: &mut Ctx,
    options: &Node,
    place: &Place,
    is_default: bool,
    grading: &mut GradingSpec,
    transforms: &mut Transforms,
) -> (Option<String>, Option<String>) {
    let mut judge = None;
    let mut embeddings = None;
    for (k, v) in options.entries().unwrap_or(&[]) {
        let p = place.child(v.line, k);
        match k.as_str() {
            "transform" | "postprocess" => match v.as_str() {
                // `transform` wins over `postprocess`, as in promptfoo.
                Some(code) if k == "transform" || transforms.output.is_none() => {
                    transforms.output = transform_code(ctx, code, &p, k);
                }
                Some(_) => {}
                None => ctx.skip(
                    p,
                    &format!("options.{k}"),
                    "not a text of code or a file://script",
                ),
            },
            "transformVars" => match v.as_str() {
                Some(code) => transforms.vars = transform_code(ctx, code, &p, k),
                None => ctx.skip(
                    p,
                    "options.transformVars",
                    "not a text of code or a file://script",
                ),
            },
            "provider" => {
                judge = providers::grader(ctx, v, GraderKind::Judge, &p);
                // A chat provider cannot embed; only an embedding id (or
                // {embedding: …}) sets the embeddings grader.
                let embed_node = v
                    .get("embedding")
                    .or_else(|| v.as_str().filter(|s| s.contains(":embedding")).map(|_| v));
                if let Some(e) = embed_node {
                    embeddings = providers::grader(ctx, e, GraderKind::Embeddings, &p);
                }
            }
            "rubricPrompt" if is_default => match v.as_str() {
                Some(s) => {
                    // Same variables (rubric, output) in ai-evals' judge prompt.
                    if let Some(t) = ctx.template(s, &p, "rubricPrompt") {
                        grading.judge_prompt = Some(PromptSpec::Inline(t));
                    }
                }
                None => ctx.skip(
                    p,
                    "rubricPrompt",
                    "chat-message rubric prompts are not converted",
                ),
            },
            "rubricPrompt" => ctx.skip(
                p,
                "rubricPrompt",
                "a per-test judge prompt has no ai-evals counterpart",
            ),
            other => ctx.skip(
                p,
                &format!("options.{other}"),
                "no ai-evals counterpart (prompt prefixes, … change what is sent or checked)",
            ),
        }
    }
    if is_default {
        if judge.is_some() {
            grading.judge.clone_from(&judge);
        }
        if embeddings.is_some() {
            grading.embeddings.clone_from(&embeddings);
        }
    }
    (judge, embeddings)
}

/// A transform's code as it is written into the suite: the same
/// JavaScript, or `file://` script; `None` (skipped) when it names no
/// script that is there, which fails every test in promptfoo.
fn transform_code(ctx: &mut Ctx, code: &str, place: &Place, key: &str) -> Option<String> {
    let what = format!("options.{key}");
    match crate::config::transform_script(code) {
        Err(why) => {
            ctx.skip(place.clone(), &what, &why);
            return None;
        }
        Ok(Script {
            code: Code::File { path, .. },
            ..
        }) if !ctx.resolve(&path).is_file() => {
            let why = format!("{path} does not exist (promptfoo fails every test it applies to)");
            ctx.skip(place.clone(), &what, &why);
            return None;
        }
        Ok(_) => {}
    }
    assertions::script_warnings(ctx, code, Language::JavaScript, place, &what);
    Some(code.to_string())
}

pub(super) fn convert_asserts(
    ctx: &mut Ctx,
    list: &Node,
    place: &Place,
    origin: Origin,
    grader: Option<&str>,
    graded: &mut Graded,
) -> Vec<AssertionSpec> {
    let Some(items) = list.items() else {
        ctx.skip(place.clone(), "assert", "not a list");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, a) in items.iter().enumerate() {
        let p = place.child(a.line, &format!("[{i}]"));
        let mut g = Graded::default();
        if let Some(v) = assertions::convert(ctx, a, &p, origin, grader, &mut g) {
            // Only assertions that grade with [grading] need its defaults.
            if v.provider.is_none() {
                graded.judge |= g.judge;
                graded.embeddings |= g.embeddings;
            }
            out.push(v);
        }
    }
    out
}

/// TOML has no null. In variables a null inside a list or object goes
/// (a missing variable renders as the empty text a null does); a whole
/// whole number too large for TOML becomes a float.
pub(super) fn strip_nulls(vars: &mut Map<String, Value>) {
    fn fit(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(fit);
            }
            Value::Array(items) => {
                items.retain(|v| !v.is_null());
                items.iter_mut().for_each(fit);
            }
            Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_some() => {
                *value = Value::from(n.as_f64().unwrap_or(f64::MAX));
            }
            _ => {}
        }
    }
    vars.values_mut().for_each(fit);
}

/// The assertions that TOML can hold; one whose value or config holds a
/// null (a JSON Schema's `const: null`, say) is skipped, since dropping
/// the null would change what it checks.
pub(super) fn fit_for_toml(
    ctx: &mut Ctx,
    asserts: Vec<AssertionSpec>,
    place: &Place,
) -> Vec<AssertionSpec> {
    fn has_null(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Array(items) => items.iter().any(has_null),
            Value::Object(map) => map.values().any(has_null),
            _ => false,
        }
    }
    asserts
        .into_iter()
        .filter(|a| {
            let null = a.value.as_ref().is_some_and(has_null) || a.config.as_ref().is_some_and(has_null);
            if null {
                ctx.skip(
                    place.clone(),
                    &format!("assertion `{}`", a.kind),
                    "its value or config holds a null, which the suite's TOML cannot (put the test in a JSON or YAML test file, which converts to JSONL)",
                );
            }
            !null
        })
        .collect()
}

pub(super) fn strip_newline(s: &str) -> String {
    s.strip_suffix('\n').unwrap_or(s).to_string()
}

pub(super) fn null_to_empty(v: Value) -> Value {
    if v.is_null() {
        Value::String(String::new())
    } else {
        v
    }
}
