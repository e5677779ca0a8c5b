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

use serde_json::{Map, Value, json};

use super::assertions::{self, Graded, Origin};
use super::providers::{self, GraderKind};
use super::template::LOAD_SUFFIX;
use super::yaml::{Kind, Node};
use super::{Ctx, Place};
use default_test::Graders;
use files::file_tests;
use test::convert_test;

#[derive(Debug, Default)]
pub struct Converted {
    pub grading: Map<String, Value>,
    pub defaults: Map<String, Value>,
    pub tests: Vec<Map<String, Value>>,
    pub datasets: Vec<String>,
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
        out.defaults.insert("vars".into(), vars);
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
        Kind::Str(path) => file_tests(ctx, path, &place, dflt, out, graded),
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = place.child(item.line, &format!("[{i}]"));
                convert_tests_item(ctx, item, &p, dflt, out, graded);
            }
        }
        Kind::Map(_) if tests.get("path").and_then(Node::as_str).is_some() => {
            let path = tests.get("path").and_then(Node::as_str).unwrap();
            file_tests(ctx, path, &place, dflt, out, graded);
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
        Kind::Str(path) => file_tests(ctx, path, p, dflt, out, graded),
        Kind::Map(_) if item.get("path").and_then(Node::as_str).is_some() => {
            let path = item.get("path").and_then(Node::as_str).unwrap();
            if item.get("config").is_some() {
                ctx.skip(
                    p.clone(),
                    "tests config",
                    "generator config is for script test files",
                );
            }
            file_tests(ctx, path, p, dflt, out, graded);
        }
        Kind::Map(_) => {
            let rows = convert_test(ctx, item, p, Origin::Yaml, dflt, graded);
            out.tests.extend(rows);
        }
        _ => ctx.skip(p.clone(), "test", "neither a path nor a test"),
    }
}

/// Graders for graded assertions that name none: defaultTest's, else
/// promptfoo's defaults.
fn add_default_graders(ctx: &mut Ctx, graded: Graded, graders: Graders, out: &mut Converted) {
    if graded.judge && !out.grading.contains_key("judge") {
        let name = graders
            .0
            .unwrap_or_else(|| default_provider(ctx, GraderKind::Judge));
        out.grading.insert("judge".into(), json!(name));
    }
    if graded.embeddings && !out.grading.contains_key("embeddings") {
        let name = graders
            .1
            .unwrap_or_else(|| default_provider(ctx, GraderKind::Embeddings));
        out.grading.insert("embeddings".into(), json!(name));
    }
}

/// `x | load` in templates: every vars map that sets x (defaults, tests and
/// dataset rows) gets an `x__json` holding the parsed value.
fn add_load_vars_everywhere(ctx: &mut Ctx, out: &mut Converted) {
    let load_vars = ctx.load_vars.clone();
    if load_vars.is_empty() {
        return;
    }
    if let Some(Value::Object(vars)) = out.defaults.get_mut("vars") {
        add_load_vars(vars, &load_vars);
    }
    for t in out.tests.iter_mut() {
        if let Some(Value::Object(vars)) = t.get_mut("vars") {
            add_load_vars(vars, &load_vars);
        }
    }
    for (_, contents) in ctx.files.iter_mut() {
        let mut lines = Vec::new();
        for line in contents.lines() {
            let mut row: Map<String, Value> =
                serde_json::from_str(line).expect("rows are JSON objects");
            if let Some(Value::Object(vars)) = row.get_mut("vars") {
                add_load_vars(vars, &load_vars);
            }
            lines.push(serde_json::to_string(&row).expect("a row serializes"));
        }
        *contents = lines.join("\n") + "\n";
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
    let (name, table, why) = match kind {
        GraderKind::Judge => (
            "promptfoo-default-grader",
            json!({ "type": "openai", "model": providers::DEFAULT_GRADER_MODEL, "response-format": "json" }),
            format!(
                "no grader was set, so promptfoo's default is used: OpenAI {} in JSON mode (promptfoo picks another vendor's default when no OpenAI key is set, and the model varies by promptfoo version)",
                providers::DEFAULT_GRADER_MODEL
            ),
        ),
        GraderKind::Embeddings => (
            "promptfoo-default-embeddings",
            json!({ "type": "openai", "model": providers::DEFAULT_EMBEDDING_MODEL }),
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
            table: table.as_object().unwrap().clone(),
            comments: vec![],
        });
    }
    name.to_string()
}

/// `options` of defaultTest (into `[grading]`) or of a test (the test's
/// grader). Returns the judge and embeddings provider names.
pub(super) fn grading_options(
    ctx: &mut Ctx,
    options: &Node,
    place: &Place,
    is_default: bool,
    grading: &mut Map<String, Value>,
) -> (Option<String>, Option<String>) {
    let mut judge = None;
    let mut embeddings = None;
    for (k, v) in options.entries().unwrap_or(&[]) {
        let p = place.child(v.line, k);
        match k.as_str() {
            "provider" => {
                judge = providers::grader(ctx, v, GraderKind::Judge, &p);
                // A chat provider cannot embed; only an embedding id (or
                // {embedding: …}) sets the embeddings grader.
                let embed_node = v.get("embedding").or_else(|| {
                    v.as_str().filter(|s| s.contains(":embedding")).map(|_| v)
                });
                if let Some(e) = embed_node {
                    embeddings = providers::grader(ctx, e, GraderKind::Embeddings, &p);
                }
            }
            "rubricPrompt" if is_default => match v.as_str() {
                Some(s) => {
                    // Same variables (rubric, output) in ai-evals' judge prompt.
                    if let Some(t) = ctx.template(s, &p, "rubricPrompt") {
                        grading.insert("judge-prompt".into(), json!(t));
                    }
                }
                None => ctx.skip(p, "rubricPrompt", "chat-message rubric prompts are not converted"),
            },
            "rubricPrompt" => ctx.skip(p, "rubricPrompt", "a per-test judge prompt has no ai-evals counterpart"),
            other => ctx.skip(p, &format!("options.{other}"), "no ai-evals counterpart (output transforms, prompt prefixes, … change what is checked)"),
        }
    }
    if is_default {
        if let Some(j) = &judge {
            grading.insert("judge".into(), json!(j));
        }
        if let Some(e) = &embeddings {
            grading.insert("embeddings".into(), json!(e));
        }
    }
    (judge, embeddings)
}

pub(super) fn convert_asserts(
    ctx: &mut Ctx,
    list: &Node,
    place: &Place,
    origin: Origin,
    grader: Option<&str>,
    graded: &mut Graded,
) -> Vec<Value> {
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
            if v.get("provider").is_none() {
                graded.judge |= g.judge;
                graded.embeddings |= g.embeddings;
            }
            out.push(v);
        }
    }
    out
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
