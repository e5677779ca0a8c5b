//! `ai-evals import promptfoo`: converts a promptfoo config into an ai-evals
//! suite.
//!
//! [`convert`] reads the YAML text (and the files it references, relative to
//! the config's folder) and returns a [`Conversion`]: the `evals.toml` text,
//! dataset files to write beside it, and every item it could not convert, each
//! with its place and the reason. Nothing is dropped silently: what converts
//! with a caveat is a [`Conversion::notes`] entry, what does not is a
//! [`Conversion::skipped`] entry, and the exit class says which happened.
//!
//! The output targets the ai-evals suite format plus three additions the core
//! is gaining: `prompts = [...]` / `providers = [...]` matrices, chat prompts
//! (`[prompts.NAME] messages = [...]`) and an assertion's `metric` label.

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

use serde_json::{Map, Value};

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

/// A skipped item, or a converted one with a caveat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub place: Place,
    pub what: String,
    pub why: String,
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.place, self.what, self.why)
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
    /// What was converted with a caveat (an approximation, a dropped
    /// informational key); these do not change the exit class.
    pub notes: Vec<Item>,
}

impl Conversion {
    /// 0: everything converted; 1: some parts were skipped.
    pub fn exit_code(&self) -> i32 {
        if self.skipped.is_empty() { 0 } else { 1 }
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

/// Shared state of one conversion.
pub(crate) struct Ctx<'a> {
    dir: PathBuf,
    config_name: String,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The config's own `env:` block (it overrides the process environment).
    config_env: Vec<(String, String)>,
    skipped: Vec<Item>,
    notes: Vec<Item>,
    prompts: Vec<(String, Value)>,
    providers: Vec<providers::Provider>,
    /// Variables used as `x | load` in templates.
    load_vars: BTreeSet<String>,
    files: Vec<(PathBuf, String)>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn skip(&mut self, place: Place, what: &str, why: &str) {
        self.skipped.push(Item {
            place,
            what: what.to_string(),
            why: why.to_string(),
        });
    }

    pub(crate) fn note(&mut self, place: Place, what: &str, why: &str) {
        let item = Item {
            place,
            what: what.to_string(),
            why: why.to_string(),
        };
        if !self.notes.contains(&item) {
            self.notes.push(item);
        }
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
        if !template::is_template(text) {
            return Some(text.to_string());
        }
        match template::translate(text) {
            Ok(t) => {
                for n in &t.notes {
                    self.note(place.clone(), what, n);
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

    /// A `file://` assertion value as promptfoo 0.123 reads it: a script
    /// (`.js`, `.py`, `.rb`, … before any `:function`) is refused, any other
    /// file is read by [`Ctx::read_value_file`].
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
                "the value comes from running {rel}; ai-evals runs no scripts"
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

    /// Adds a generated file; returns its path (relative), made unique.
    pub(crate) fn add_file(&mut self, wanted: &str, contents: String) -> String {
        let mut name = wanted.to_string();
        let mut n = 1;
        while self
            .files
            .iter()
            .any(|(p, _)| p.to_str() == Some(name.as_str()))
        {
            n += 1;
            name = match wanted.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}-{n}.{ext}"),
                None => format!("{wanted}-{n}"),
            };
        }
        self.files.push((PathBuf::from(&name), contents));
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
    let suite = top_level_keys(&mut ctx, &root);
    convert_prompts_and_providers(&mut ctx, &root);
    let main_providers: Vec<String> = ctx.providers.iter().map(|p| p.name.clone()).collect();
    let converted = cases::convert_tests(&mut ctx, &root);
    let suite_table = suite_table(&ctx, &root, suite);
    let toml = emit(&ctx, suite_table, &main_providers, converted);
    Ok(Conversion {
        toml,
        files: ctx.files,
        skipped: ctx.skipped,
        notes: ctx.notes,
    })
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
        notes: Vec::new(),
        prompts: Vec::new(),
        providers: Vec::new(),
        load_vars: BTreeSet::new(),
        files: Vec::new(),
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
    (
        "extensions",
        "extension hooks run user code; ai-evals has none",
    ),
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
/// returns the `[suite]` settings they give.
fn top_level_keys(ctx: &mut Ctx, root: &Node) -> Map<String, Value> {
    let mut suite = Map::new();
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
            "evaluateOptions" => evaluate_options(ctx, node, &place, &mut suite),
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
    suite
}

/// `evaluateOptions`: concurrency and repeat carry over.
fn evaluate_options(ctx: &mut Ctx, node: &Node, place: &Place, suite: &mut Map<String, Value>) {
    for (k, v) in node.entries().unwrap_or(&[]) {
        let p = place.child(v.line, k);
        match (k.as_str(), v.as_f64()) {
            ("maxConcurrency", Some(n)) if n >= 1.0 => {
                suite.insert("concurrency".into(), Value::from(n as u64));
            }
            ("repeat", Some(n)) if n >= 1.0 => {
                suite.insert("repeat".into(), Value::from(n as u64));
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
/// description, then the settings of `evaluateOptions`.
fn suite_table(ctx: &Ctx, root: &Node, settings: Map<String, Value>) -> Map<String, Value> {
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
    let mut table = Map::new();
    table.insert(
        "name".into(),
        Value::String(name.trim_end_matches(['-', '.']).to_string()),
    );
    if let Some(d) = description {
        table.insert("description".into(), Value::String(d));
    }
    table.extend(settings);
    table
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

/// JSON → TOML. TOML has no null: `None` when one is found.
fn to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => {
            toml::Value::Array(items.iter().map(to_toml).collect::<Option<_>>()?)
        }
        Value::Object(map) => {
            let mut t = toml::Table::new();
            for (k, v) in map {
                t.insert(k.clone(), to_toml(v)?);
            }
            toml::Value::Table(t)
        }
    })
}

fn table_of(map: &Map<String, Value>) -> toml::Table {
    match to_toml(&Value::Object(map.clone())) {
        Some(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    }
}

/// Builds the suite document and serializes it, under a header that says
/// what did not convert.
fn emit(
    ctx: &Ctx,
    suite: Map<String, Value>,
    main_providers: &[String],
    converted: cases::Converted,
) -> String {
    let mut doc = toml::Table::new();
    doc.insert("suite".into(), toml::Value::Table(table_of(&suite)));
    if !ctx.prompts.is_empty() {
        let mut prompts = toml::Table::new();
        for (name, value) in &ctx.prompts {
            if let Some(v) = to_toml(value) {
                prompts.insert(name.clone(), v);
            }
        }
        doc.insert("prompts".into(), toml::Value::Table(prompts));
    }
    if !ctx.providers.is_empty() {
        let mut providers = toml::Table::new();
        for p in &ctx.providers {
            providers.insert(p.name.clone(), toml::Value::Table(table_of(&p.table)));
        }
        doc.insert("providers".into(), toml::Value::Table(providers));
    }
    if !converted.grading.is_empty() {
        doc.insert(
            "grading".into(),
            toml::Value::Table(table_of(&converted.grading)),
        );
    }
    let defaults = defaults_table(ctx, main_providers, converted.defaults);
    if !defaults.is_empty() {
        doc.insert("defaults".into(), toml::Value::Table(table_of(&defaults)));
    }
    if !converted.tests.is_empty() {
        let tests: Vec<toml::Value> = converted
            .tests
            .iter()
            .map(|t| toml::Value::Table(table_of(t)))
            .collect();
        doc.insert("tests".into(), toml::Value::Array(tests));
    }
    if !converted.datasets.is_empty() {
        doc.insert("datasets".into(), datasets(&converted.datasets));
    }
    let body = toml::to_string_pretty(&doc).expect("a TOML table serializes");
    header(ctx) + &body
}

/// `[defaults]`: the prompt and provider matrices, then defaultTest's part.
fn defaults_table(
    ctx: &Ctx,
    main_providers: &[String],
    from_default_test: Map<String, Value>,
) -> Map<String, Value> {
    let mut defaults = Map::new();
    let prompt_names: Vec<String> = ctx.prompts.iter().map(|(n, _)| n.clone()).collect();
    insert_one_or_many(&mut defaults, "prompt", "prompts", &prompt_names);
    insert_one_or_many(&mut defaults, "provider", "providers", main_providers);
    defaults.extend(from_default_test);
    defaults
}

/// One name as `one = "x"`, several as `many = ["x", "y"]`, none not at all.
fn insert_one_or_many(map: &mut Map<String, Value>, one: &str, many: &str, names: &[String]) {
    match names {
        [] => {}
        [name] => {
            map.insert(one.into(), Value::String(name.clone()));
        }
        _ => {
            let list = names.iter().map(|n| Value::String(n.clone())).collect();
            map.insert(many.into(), Value::Array(list));
        }
    }
}

/// `[[datasets]]` tables, one a generated file.
fn datasets(paths: &[String]) -> toml::Value {
    let tables = paths
        .iter()
        .map(|path| {
            let mut t = toml::Table::new();
            t.insert("path".into(), toml::Value::String(path.clone()));
            toml::Value::Table(t)
        })
        .collect();
    toml::Value::Array(tables)
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
    if ctx.skipped.is_empty() {
        header.push_str("# Everything converted.\n");
    } else {
        header.push_str(&format!(
            "# {} item(s) were NOT converted:\n",
            ctx.skipped.len()
        ));
        for item in &ctx.skipped {
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
