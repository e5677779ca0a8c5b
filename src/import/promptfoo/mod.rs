//! `ai-evals import promptfoo`: converts a promptfoo config into an ai-evals
//! suite.
//!
//! [`convert`] reads the YAML text (and the files it references, relative to
//! the config's folder) and returns a [`Conversion`]: the `evals.toml` text,
//! dataset files to write beside it, and every item it could not convert, each
//! with its place and the reason. Nothing is dropped silently: what does not
//! convert is a [`Conversion::skipped`] entry, what converts but may grade
//! differently is a [`Conversion::warnings`] entry naming its test, what
//! converts with an informational caveat is a [`Conversion::notes`] entry,
//! and the exit class says which happened.
//!
//! The suite is built from the config's own types ([`Suite`], [`TestSpec`],
//! [`Defaults`], [`AssertionSpec`](crate::assertion::AssertionSpec),
//! [`ProviderSpec`](crate::config::ProviderSpec) …) and serialized, so a
//! change to the config format is a compile error here. An imported suite
//! keeps promptfoo's lenient undefined variables (`[suite] undefined =
//! "lenient"`).

mod assertions;
mod cases;
mod jsregex;
mod prompts;
mod providers;
mod template;
mod yaml;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::config::{
    DatasetSpec, Defaults, GradingSpec, PromptSpec, ProviderSpec, Suite, TestSpec, Undefined,
};
use yaml::{Kind, Node};

/// Where an item is in the source: a file (relative to the config's folder),
/// the line when known, and a path such as `tests[3].assert[1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    pub line: Option<usize>,
    pub path: String,
}

impl Place {
    pub fn new(file: &str, line: Option<usize>, path: impl Into<String>) -> Place {
        Place {
            file: file.to_string(),
            line,
            path: path.into(),
        }
    }

    fn config(ctx: &Ctx, line: usize, path: impl Into<String>) -> Place {
        Place::new(&ctx.config_name, Some(line), path)
    }

    /// The same place one level down.
    pub fn child(&self, line: usize, segment: &str) -> Place {
        let path = if self.path.is_empty() {
            segment.to_string()
        } else if segment.starts_with('[') {
            format!("{}{segment}", self.path)
        } else {
            format!("{}.{segment}", self.path)
        };
        Place::new(&self.file, Some(line), path)
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file)?,
            None => write!(f, "{}", self.file)?,
        }
        if !self.path.is_empty() {
            write!(f, " {}", self.path)?;
        }
        Ok(())
    }
}

/// A skipped item, a converted one that may grade differently, or one
/// with an informational caveat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub place: Place,
    /// The test it belongs to, by its description, when it has one.
    pub test: Option<String>,
    pub what: String,
    pub why: String,
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.place)?;
        if let Some(test) = &self.test {
            write!(f, " (test {test:?})")?;
        }
        write!(f, ": {}: {}", self.what, self.why)
    }
}

/// The result of a conversion.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// The ai-evals suite (`evals.toml`), meant for the config's folder.
    pub toml: String,
    /// Files to write, relative to the folder of `evals.toml`.
    pub files: Vec<(PathBuf, String)>,
    /// What was not converted.
    pub skipped: Vec<Item>,
    /// What was converted but may pass or fail where promptfoo would not
    /// (a judge answer without `pass`, UTF-16 edit distances, …).
    pub warnings: Vec<Item>,
    /// What was converted with an informational caveat (a dropped key that
    /// changes nothing, where a URL came from); no effect on pass/fail.
    pub notes: Vec<Item>,
    /// Why the suite would run nothing (no prompt, provider or test left),
    /// when that is so.
    pub nothing_to_run: Option<String>,
}

impl Conversion {
    /// 0: everything converted; 1: some parts were skipped, the rest runs;
    /// 2: nothing is left to run.
    pub fn exit_code(&self) -> i32 {
        if self.nothing_to_run.is_some() {
            2
        } else if self.skipped.is_empty() {
            0
        } else {
            1
        }
    }

    /// Whether everything converted and grades as in promptfoo.
    pub fn is_complete(&self) -> bool {
        self.skipped.is_empty() && self.warnings.is_empty() && self.nothing_to_run.is_none()
    }
}

/// The input is not a promptfoo config (exit class 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPromptfoo {
    pub reason: String,
}

impl fmt::Display for NotPromptfoo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a promptfoo config: {}", self.reason)
    }
}

/// What a template's rendering is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rendered {
    Text,
    /// JSON, parsed again (a chat prompt's messages).
    Json,
}

/// Shared state of one conversion.
pub(crate) struct Ctx<'a> {
    dir: PathBuf,
    config_name: String,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The config's own `env:` block (it overrides the process environment).
    config_env: Vec<(String, String)>,
    skipped: Vec<Item>,
    warnings: Vec<Item>,
    notes: Vec<Item>,
    /// The description of the test being converted, which warnings name.
    test: Option<String>,
    prompts: Vec<(String, PromptSpec)>,
    providers: Vec<providers::Provider>,
    /// Variables used as `x | load` in templates.
    load_vars: BTreeSet<String>,
    /// Generated dataset files and their rows.
    datasets: Vec<(String, Vec<TestSpec>)>,
    /// Whether a chat prompt is JSON that promptfoo renders as one
    /// template (so a variable can break it).
    json_prompts: bool,
}

impl<'a> Ctx<'a> {
    fn item(&self, place: Place, what: &str, why: &str) -> Item {
        Item {
            place,
            test: self.test.clone(),
            what: what.to_string(),
            why: why.to_string(),
        }
    }

    pub(crate) fn skip(&mut self, place: Place, what: &str, why: &str) {
        let item = self.item(place, what, why);
        self.skipped.push(item);
    }

    /// Converted, but promptfoo may pass or fail it differently.
    pub(crate) fn warn(&mut self, place: Place, what: &str, why: &str) {
        let item = self.item(place, what, why);
        if !self.warnings.contains(&item) {
            self.warnings.push(item);
        }
    }

    pub(crate) fn note(&mut self, place: Place, what: &str, why: &str) {
        let item = self.item(place, what, why);
        if !self.notes.contains(&item) {
            self.notes.push(item);
        }
    }

    /// Runs `convert` with warnings naming the test `description`.
    pub(crate) fn in_test<T>(
        &mut self,
        description: Option<&str>,
        convert: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let outer = std::mem::replace(&mut self.test, description.map(str::to_string));
        let result = convert(self);
        self.test = outer;
        result
    }

    /// An environment variable: the config's `env:` block first, then the
    /// environment given to [`convert`].
    pub(crate) fn env_var(&self, name: &str) -> Option<String> {
        self.config_env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| (self.env)(name))
            .filter(|v| !v.is_empty())
    }

    /// Translates a Nunjucks template (or returns plain text unchanged);
    /// `None` when it cannot be translated (recorded as skipped).
    pub(crate) fn template(&mut self, text: &str, place: &Place, what: &str) -> Option<String> {
        self.template_as(text, place, what, Rendered::Text)
    }

    /// [`Ctx::template`] for a template whose rendering is read as JSON
    /// (a chat prompt), where `tojson`'s extra escapes decode away.
    pub(crate) fn json_template(
        &mut self,
        text: &str,
        place: &Place,
        what: &str,
    ) -> Option<String> {
        self.template_as(text, place, what, Rendered::Json)
    }

    fn template_as(
        &mut self,
        text: &str,
        place: &Place,
        what: &str,
        rendered: Rendered,
    ) -> Option<String> {
        if !template::is_template(text) {
            return Some(text.to_string());
        }
        match template::translate(text) {
            Ok(t) => {
                if t.tojson && rendered == Rendered::Text {
                    self.warn(place.clone(), what, template::TOJSON_NOTE);
                }
                for n in &t.notes {
                    self.warn(place.clone(), what, n);
                }
                self.load_vars.extend(t.load_vars);
                Some(t.text)
            }
            Err(why) => {
                self.skip(place.clone(), what, &format!("template: {why}"));
                None
            }
        }
    }

    /// A path relative to the config's folder, resolved.
    pub(crate) fn resolve(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// A `file://` value of an assertion that is not a script assertion,
    /// as promptfoo 0.123 reads it: a script (`.js`, `.py`, `.rb`, …
    /// before any `:function`) computes the value and is refused, any
    /// other file is read by [`Ctx::read_value_file`].
    pub(crate) fn load_value_file(&mut self, rel: &str) -> Result<Value, String> {
        let path_part = rel.split_once(':').map_or(rel, |(p, _)| p);
        let lower = path_part.to_ascii_lowercase();
        if [".js", ".cjs", ".mjs", ".ts", ".cts", ".mts"]
            .iter()
            .any(|e| lower.ends_with(e))
            || path_part.ends_with(".py")
            || path_part.ends_with(".rb")
        {
            return Err(format!(
                "the value comes from running {rel}; ai-evals computes assertion values only in javascript and python assertions"
            ));
        }
        self.read_value_file(rel)
    }

    /// promptfoo's `processFileReference`: `.json`, `.yaml` and `.yml`
    /// parsed (as YAML, which JSON is), `.txt` trimmed; it raises an error
    /// on any other extension (compared as written, not lowercased).
    pub(crate) fn read_value_file(&mut self, rel: &str) -> Result<Value, String> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let ext = match name.rfind('.') {
            Some(i) if i > 0 => &name[i..],
            _ => "",
        };
        if ![".json", ".yaml", ".yml", ".txt"].contains(&ext) {
            return Err(format!(
                "promptfoo reads only .json, .yaml, .yml and .txt value files and raises an error on {rel}"
            ));
        }
        let path = self.resolve(rel);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if ext == ".txt" {
            return Ok(Value::String(
                text.trim_matches(jsregex::is_js_space).to_string(),
            ));
        }
        yaml::parse(&text)
            .map(|n| n.to_json())
            .map_err(|e| format!("{rel}: {e}"))
    }

    /// Adds a generated dataset of `rows`; returns its path (relative),
    /// made unique.
    pub(crate) fn add_dataset(&mut self, wanted: &str, rows: Vec<TestSpec>) -> String {
        let mut name = wanted.to_string();
        let mut n = 1;
        while self.datasets.iter().any(|(p, _)| *p == name) {
            n += 1;
            name = match wanted.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}-{n}.{ext}"),
                None => format!("{wanted}-{n}"),
            };
        }
        self.datasets.push((name.clone(), rows));
        name
    }
}

/// Converts promptfoo config text. `config_path` names the file in places
/// and anchors relative paths; `env` answers environment lookups (base URLs;
/// for API keys only whether they are set).
pub fn convert(
    yaml_text: &str,
    config_path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Conversion, NotPromptfoo> {
    let root = parse_config(yaml_text)?;
    let root = resolve_refs(&root, &root, 0);
    let mut ctx = new_ctx(&root, config_path, env);
    let mut suite = suite(&ctx, &root);
    top_level_keys(&mut ctx, &root, &mut suite);
    convert_prompts_and_providers(&mut ctx, &root);
    let main_providers: Vec<String> = ctx.providers.iter().map(|p| p.name.clone()).collect();
    let mut converted = cases::convert_tests(&mut ctx, &root);
    set_matrix(&ctx, &main_providers, &mut converted.defaults);
    let nothing_to_run = nothing_to_run(&ctx, &main_providers, &converted);
    let toml = emit(&ctx, &suite, &converted);
    let files = ctx
        .datasets
        .iter()
        .map(|(name, rows)| (PathBuf::from(name), jsonl(rows)))
        .collect();
    Ok(Conversion {
        toml,
        files,
        skipped: ctx.skipped,
        warnings: ctx.warnings,
        notes: ctx.notes,
        nothing_to_run,
    })
}

/// Why the converted suite would run nothing, if it would not run
/// anything: it needs a prompt, a provider and a test.
fn nothing_to_run(
    ctx: &Ctx,
    main_providers: &[String],
    converted: &cases::Converted,
) -> Option<String> {
    let has_tests = !converted.tests.is_empty() || ctx.datasets.iter().any(|(_, r)| !r.is_empty());
    let missing: Vec<&str> = [
        ("prompt", ctx.prompts.is_empty()),
        ("provider", main_providers.is_empty()),
        ("test", !has_tests),
    ]
    .into_iter()
    .filter_map(|(what, none)| none.then_some(what))
    .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "no {} could be converted, so the suite would run nothing",
        missing.join(", no ")
    ))
}

/// A dataset's rows as JSONL, each row a test without its unset keys.
fn jsonl(rows: &[TestSpec]) -> String {
    let mut text = String::new();
    for row in rows {
        let mut value = serde_json::to_value(row).expect("a test serializes");
        if let Value::Object(map) = &mut value {
            let unset = |v: &Value| match v {
                Value::Null => true,
                Value::Array(items) => items.is_empty(),
                Value::Object(map) => map.is_empty(),
                _ => false,
            };
            map.retain(|_, v| !unset(v));
        }
        text.push_str(&value.to_string());
        text.push('\n');
    }
    text
}

/// The parsed config, or why the text is not a promptfoo config: it must be
/// a YAML mapping with at least one of promptfoo's main keys.
fn parse_config(yaml_text: &str) -> Result<Node, NotPromptfoo> {
    let root = yaml::parse(yaml_text).map_err(|e| NotPromptfoo {
        reason: format!("the YAML does not parse: {e}"),
    })?;
    let Some(entries) = root.entries() else {
        return Err(NotPromptfoo {
            reason: "the document is not a mapping".into(),
        });
    };
    let promptfoo_keys = [
        "prompts",
        "providers",
        "targets",
        "tests",
        "defaultTest",
        "scenarios",
        "redteam",
    ];
    if !entries
        .iter()
        .any(|(k, _)| promptfoo_keys.contains(&k.as_str()))
    {
        return Err(NotPromptfoo {
            reason: format!("none of the keys {} is present", promptfoo_keys.join(", ")),
        });
    }
    Ok(root)
}

fn new_ctx<'a>(
    root: &Node,
    config_path: &Path,
    env: &'a dyn Fn(&str) -> Option<String>,
) -> Ctx<'a> {
    let dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let config_name = config_path
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("promptfooconfig.yaml")
        .to_string();
    Ctx {
        dir,
        config_name,
        env,
        config_env: config_env(root),
        skipped: Vec::new(),
        warnings: Vec::new(),
        notes: Vec::new(),
        test: None,
        prompts: Vec::new(),
        providers: Vec::new(),
        load_vars: BTreeSet::new(),
        datasets: Vec::new(),
        json_prompts: false,
    }
}

/// The config's `env:` block as texts (numbers as JavaScript prints them).
fn config_env(root: &Node) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in root.get("env").and_then(Node::entries).unwrap_or(&[]) {
        let value = match &v.kind {
            Kind::Str(s) => s.clone(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => yaml::js_number(*f),
            Kind::Bool(b) => b.to_string(),
            _ => continue,
        };
        out.push((k.clone(), value));
    }
    out
}

/// Top-level keys with no ai-evals counterpart, and why.
const UNCONVERTED_KEYS: &[(&str, &str)] = &[
    ("scenarios", "scenario × data matrices are not converted"),
    ("redteam", "red-team generation has no ai-evals counterpart"),
    ("extensions", "extension hooks have no ai-evals counterpart"),
    (
        "nunjucksFilters",
        "custom JavaScript filters; templates using them are skipped where they appear",
    ),
    (
        "derivedMetrics",
        "derived metrics have no ai-evals counterpart",
    ),
    ("tracing", "tracing has no ai-evals counterpart"),
    (
        "commandLineOptions",
        "promptfoo CLI defaults have no ai-evals counterpart",
    ),
];

/// Notes and skips the top-level keys that are not converted elsewhere;
/// the `[suite]` settings they give go into `suite`.
fn top_level_keys(ctx: &mut Ctx, root: &Node, suite: &mut Suite) {
    for (key, node) in root.entries().unwrap_or(&[]) {
        let place = Place::config(ctx, node.line, key.clone());
        match key.as_str() {
            "description" | "prompts" | "providers" | "targets" | "tests" | "defaultTest"
            | "assertionTemplates" | "$schema" => {}
            "env" => ctx.note(
                place,
                "env",
                "read for base URLs and hosts only; its values (keys included) are not copied",
            ),
            "outputPath" | "sharing" | "writeLatestResults" | "metadata" | "tags" => {
                ctx.note(place, key, "has no effect on pass/fail; dropped")
            }
            "evaluateOptions" => evaluate_options(ctx, node, &place, suite),
            other => match UNCONVERTED_KEYS.iter().find(|(k, _)| *k == other) {
                Some((_, why)) => ctx.skip(place, other, why),
                None => ctx.skip(
                    place,
                    other,
                    "not a promptfoo config key the converter knows",
                ),
            },
        }
    }
}

/// `evaluateOptions`: concurrency and repeat carry over.
fn evaluate_options(ctx: &mut Ctx, node: &Node, place: &Place, suite: &mut Suite) {
    for (k, v) in node.entries().unwrap_or(&[]) {
        let p = place.child(v.line, k);
        match (k.as_str(), v.as_f64()) {
            ("maxConcurrency", Some(n)) if n >= 1.0 => {
                suite.concurrency = n.min(1e6) as usize;
            }
            ("repeat", Some(n)) if n >= 1.0 => {
                suite.repeat = n.min(1e6) as u32;
            }
            ("cache", _) | ("showProgressBar", _) => {
                ctx.note(p, k, "no effect on pass/fail; dropped");
            }
            _ => ctx.skip(
                p,
                &format!("evaluateOptions.{k}"),
                "no ai-evals counterpart",
            ),
        }
    }
}

/// `prompts`, then `providers` (or `targets`); promptfoo's command line can
/// supply either, so a config without them converts with a skip.
fn convert_prompts_and_providers(ctx: &mut Ctx, root: &Node) {
    match root.get("prompts") {
        Some(node) => prompts::convert_all(ctx, node),
        None => ctx.skip(
            Place::new(&ctx.config_name, None, "prompts"),
            "prompts",
            "none in the config (promptfoo's --prompts flag supplies them); add [prompts] by hand",
        ),
    }
    let providers = root
        .get("providers")
        .map(|n| (n, "providers"))
        .or_else(|| root.get("targets").map(|n| (n, "targets")));
    match providers {
        Some((node, key)) => providers::convert_all(ctx, node, key),
        None => ctx.skip(
            Place::new(&ctx.config_name, None, "providers"),
            "providers",
            "none in the config (promptfoo's --providers flag supplies them); add [providers] by hand",
        ),
    }
}

/// `[suite]`: a name from the description (else the config's folder), the
/// description, and promptfoo's lenient undefined variables.
fn suite(ctx: &Ctx, root: &Node) -> Suite {
    let description = root
        .get("description")
        .and_then(Node::as_str)
        .map(str::to_string);
    let name_source = description
        .clone()
        .or_else(|| {
            ctx.dir
                .canonicalize()
                .ok()
                .and_then(|d| d.file_name().and_then(|s| s.to_str()).map(str::to_string))
        })
        .unwrap_or_else(|| "promptfoo".into());
    let mut name = providers::sanitize(&name_source.to_lowercase());
    name.truncate(64);
    let mut suite = Suite::named(name.trim_end_matches(['-', '.']).to_string());
    suite.description = description;
    suite.undefined = Undefined::Lenient;
    suite
}

/// Resolves `$ref: '#/a/b'` JSON pointers against the document (promptfoo
/// dereferences configs with json-schema-ref-parser).
fn resolve_refs(node: &Node, root: &Node, depth: usize) -> Node {
    if depth > 32 {
        return node.clone();
    }
    match &node.kind {
        Kind::Map(entries) => {
            if entries.len() == 1
                && entries[0].0 == "$ref"
                && let Some(target) = entries[0].1.as_str().and_then(|p| p.strip_prefix("#/"))
            {
                let mut cur = root;
                let mut ok = true;
                for seg in target.split('/') {
                    let seg = seg.replace("~1", "/").replace("~0", "~");
                    match cur.get(&seg) {
                        Some(n) => cur = n,
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if ok {
                    let mut resolved = resolve_refs(cur, root, depth + 1);
                    resolved.line = node.line;
                    return resolved;
                }
            }
            Node {
                line: node.line,
                kind: Kind::Map(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), resolve_refs(v, root, depth + 1)))
                        .collect(),
                ),
            }
        }
        Kind::Seq(items) => Node {
            line: node.line,
            kind: Kind::Seq(
                items
                    .iter()
                    .map(|v| resolve_refs(v, root, depth + 1))
                    .collect(),
            ),
        },
        _ => node.clone(),
    }
}

/// Entries serialized as a table in their order.
struct Ordered<'a, T>(Vec<(&'a str, &'a T)>);

impl<T: Serialize> Serialize for Ordered<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (*k, *v)))
    }
}

impl<T> Ordered<'_, T> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The suite document, in the config's own types.
#[derive(Serialize)]
struct Document<'a> {
    suite: &'a Suite,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    prompts: Ordered<'a, PromptSpec>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    providers: Ordered<'a, ProviderSpec>,
    #[serde(skip_serializing_if = "GradingSpec::is_empty")]
    grading: &'a GradingSpec,
    #[serde(skip_serializing_if = "Defaults::is_empty")]
    defaults: &'a Defaults,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tests: &'a [TestSpec],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    datasets: Vec<DatasetSpec>,
}

/// `[defaults]` runs every test on each prompt and provider of the config.
fn set_matrix(ctx: &Ctx, main_providers: &[String], defaults: &mut Defaults) {
    let prompts: Vec<String> = ctx.prompts.iter().map(|(n, _)| n.clone()).collect();
    (defaults.prompt, defaults.prompts) = one_or_many(prompts);
    (defaults.provider, defaults.providers) = one_or_many(main_providers.to_vec());
}

/// One name as `one = "x"`, several as `many = ["x", "y"]`, none not at all.
fn one_or_many(names: Vec<String>) -> (Option<String>, Option<Vec<String>>) {
    match names.len() {
        0 => (None, None),
        1 => (names.into_iter().next(), None),
        _ => (None, Some(names)),
    }
}

/// Builds the suite document and serializes it, under a header that says
/// what did not convert and what may grade differently.
fn emit(ctx: &Ctx, suite: &Suite, converted: &cases::Converted) -> String {
    let document = Document {
        suite,
        prompts: Ordered(ctx.prompts.iter().map(|(n, p)| (n.as_str(), p)).collect()),
        providers: Ordered(
            ctx.providers
                .iter()
                .map(|p| (p.name.as_str(), &p.spec))
                .collect(),
        ),
        grading: &converted.grading,
        defaults: &converted.defaults,
        tests: &converted.tests,
        datasets: ctx
            .datasets
            .iter()
            .map(|(path, _)| DatasetSpec {
                path: path.clone(),
                ..DatasetSpec::default()
            })
            .collect(),
    };
    let body = toml::to_string_pretty(&document).expect("the suite serializes to TOML");
    header(ctx) + &body
}

/// The comment above the suite: where it came from, where URLs came from,
/// what was not converted and the caveats.
fn header(ctx: &Ctx) -> String {
    let mut header = String::new();
    header.push_str(&format!(
        "# Converted from the promptfoo config {} by `ai-evals import promptfoo`.\n",
        ctx.config_name
    ));
    header.push_str("# Every test runs once per (prompt, provider) pair, as in promptfoo.\n");
    for p in &ctx.providers {
        for c in &p.comments {
            header.push_str(&format!("# providers.{}: {c}\n", p.name));
        }
    }
    if ctx.skipped.is_empty() && ctx.warnings.is_empty() {
        header.push_str("# Everything converted.\n");
    }
    if !ctx.skipped.is_empty() {
        header.push_str(&format!(
            "# {} item(s) were NOT converted:\n",
            ctx.skipped.len()
        ));
        for item in &ctx.skipped {
            header.push_str(&format!("#   - {}\n", one_line(&item.to_string())));
        }
    }
    if !ctx.warnings.is_empty() {
        header.push_str(&format!(
            "# {} difference(s) from promptfoo that may change pass/fail:\n",
            ctx.warnings.len()
        ));
        for item in &ctx.warnings {
            header.push_str(&format!("#   - {}\n", one_line(&item.to_string())));
        }
    }
    if !ctx.notes.is_empty() {
        header.push_str(&format!("# {} caveat(s):\n", ctx.notes.len()));
        for item in &ctx.notes {
            header.push_str(&format!("#   - {}\n", one_line(&item.to_string())));
        }
    }
    header.push('\n');
    header
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests;
