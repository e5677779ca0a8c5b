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

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::assertions::{self, Graded, Origin};
use super::providers::{self, GraderKind};
use super::template::LOAD_SUFFIX;
use super::yaml::{Kind, Node, js_number};
use super::{Ctx, Place};

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

    // defaultTest.
    let mut default_grader: (Option<String>, Option<String>) = (None, None);
    if let Some(dt) = root.get("defaultTest") {
        let place = Place::config(ctx, dt.line, "defaultTest");
        let loaded;
        let dt = match dt.as_str() {
            Some(s) if s.starts_with("file://") => {
                match std::fs::read_to_string(ctx.resolve(&s["file://".len()..]))
                    .map_err(|e| e.to_string())
                    .and_then(|t| super::yaml::parse(&t))
                {
                    Ok(n) => {
                        loaded = n;
                        &loaded
                    }
                    Err(e) => {
                        ctx.skip(
                            place.clone(),
                            "defaultTest",
                            &format!("cannot load {s}: {e}"),
                        );
                        return out;
                    }
                }
            }
            _ => dt,
        };
        for (k, v) in dt.entries().unwrap_or(&[]) {
            let p = place.child(v.line, k);
            match k.as_str() {
                "vars" | "assert" | "threshold" | "options" => {}
                "metadata" | "description" => {
                    ctx.note(p, &format!("defaultTest.{k}"), "informational; dropped")
                }
                other => ctx.skip(
                    p,
                    &format!("defaultTest.{other}"),
                    "no ai-evals counterpart",
                ),
            }
        }
        if let Some(options) = dt.get("options") {
            default_grader = grading_options(
                ctx,
                options,
                &place.child(options.line, "options"),
                true,
                &mut out.grading,
            );
        }
        if let Some(vars) = dt.get("vars") {
            match vars.entries() {
                Some(entries) => {
                    dflt.vars = entries.to_vec();
                    dflt.vars_in_defaults = entries.iter().all(|(_, v)| simple_var(v));
                    if !dflt.vars_in_defaults {
                        ctx.note(place.child(vars.line, "vars"), "defaultTest.vars", "merged into every test (they expand, load files or refer to other vars)");
                    }
                }
                None => ctx.skip(
                    place.child(vars.line, "vars"),
                    "defaultTest.vars",
                    "not a mapping",
                ),
            }
        }
        if let Some(t) = dt.get("threshold") {
            match t.as_f64() {
                Some(t) if (0.0..=1.0).contains(&t) => {
                    out.defaults.insert("threshold".into(), json!(t));
                }
                _ => ctx.skip(
                    place.child(t.line, "threshold"),
                    "defaultTest.threshold",
                    "not a number between 0 and 1 (ai-evals' range)",
                ),
            }
        }
        if let Some(list) = dt.get("assert") {
            let asserts = convert_asserts(
                ctx,
                list,
                &place.child(list.line, "assert"),
                Origin::Yaml,
                None,
                &mut graded,
            );
            if !asserts.is_empty() {
                out.defaults.insert("assert".into(), Value::Array(asserts));
            }
        }
    }
    if dflt.vars_in_defaults && !dflt.vars.is_empty() {
        let mut m = Map::new();
        for (k, v) in &dflt.vars {
            let mut value = v.to_json();
            if let Value::String(s) = &value {
                value = Value::String(strip_newline(s));
            }
            m.insert(k.clone(), null_to_empty(value));
        }
        out.defaults.insert("vars".into(), Value::Object(m));
    }

    // tests.
    match root.get("tests") {
        None => ctx.skip(
            Place::new(&ctx.config_name, None, "tests"),
            "tests",
            "none: the suite has no cases",
        ),
        Some(tests) => {
            let place = Place::config(ctx, tests.line, "tests");
            match &tests.kind {
                Kind::Str(path) => file_tests(ctx, path, &place, &dflt, &mut out, &mut graded),
                Kind::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let p = place.child(item.line, &format!("[{i}]"));
                        match &item.kind {
                            Kind::Str(path) => {
                                file_tests(ctx, path, &p, &dflt, &mut out, &mut graded)
                            }
                            Kind::Map(_) if item.get("path").and_then(Node::as_str).is_some() => {
                                let path =
                                    item.get("path").and_then(Node::as_str).unwrap().to_string();
                                if item.get("config").is_some() {
                                    ctx.skip(
                                        p.clone(),
                                        "tests config",
                                        "generator config is for script test files",
                                    );
                                }
                                file_tests(ctx, &path, &p, &dflt, &mut out, &mut graded);
                            }
                            Kind::Map(_) => {
                                let rows =
                                    convert_test(ctx, item, &p, Origin::Yaml, &dflt, &mut graded);
                                out.tests.extend(rows);
                            }
                            _ => ctx.skip(p, "test", "neither a path nor a test"),
                        }
                    }
                }
                Kind::Map(_) if tests.get("path").and_then(Node::as_str).is_some() => {
                    let path = tests
                        .get("path")
                        .and_then(Node::as_str)
                        .unwrap()
                        .to_string();
                    file_tests(ctx, &path, &place, &dflt, &mut out, &mut graded);
                }
                _ => ctx.skip(place, "tests", "neither a path, a list nor {path}"),
            }
        }
    }

    // Graders for graded assertions that name none.
    if graded.judge && !out.grading.contains_key("judge") {
        let name = default_grader
            .0
            .clone()
            .unwrap_or_else(|| default_provider(ctx, GraderKind::Judge));
        out.grading.insert("judge".into(), json!(name));
    }
    if graded.embeddings && !out.grading.contains_key("embeddings") {
        let name = default_grader
            .1
            .clone()
            .unwrap_or_else(|| default_provider(ctx, GraderKind::Embeddings));
        out.grading.insert("embeddings".into(), json!(name));
    }

    // `x | load` in templates: give every vars map that sets x an `x__json`.
    let load_vars = ctx.load_vars.clone();
    if !load_vars.is_empty() {
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
    out
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
fn grading_options(
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
                judge = ctx.grader_provider(v, GraderKind::Judge, &p);
                // A chat provider cannot embed; only an embedding id (or
                // {embedding: …}) sets the embeddings grader.
                let embed_node = v.get("embedding").or_else(|| {
                    v.as_str().filter(|s| s.contains(":embedding")).map(|_| v)
                });
                if let Some(e) = embed_node {
                    embeddings = ctx.grader_provider(e, GraderKind::Embeddings, &p);
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

/// defaultTest vars that can stay in `[defaults] vars` as they are.
fn simple_var(v: &Node) -> bool {
    match &v.kind {
        Kind::Str(s) => !s.starts_with("file://") && !s.contains("{{"),
        Kind::Seq(items) => !matches!(items.first().map(|i| &i.kind), Some(Kind::Str(_))),
        Kind::Null => false,
        _ => true,
    }
}

fn convert_asserts(
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

/// One promptfoo test → one or more ai-evals tests (array vars expand).
fn convert_test(
    ctx: &mut Ctx,
    node: &Node,
    place: &Place,
    origin: Origin,
    dflt: &Defaults,
    graded: &mut Graded,
) -> Vec<Map<String, Value>> {
    let mut test = Map::new();
    for (k, v) in node.entries().unwrap_or(&[]) {
        let p = place.child(v.line, k);
        match k.as_str() {
            "description" | "vars" | "assert" | "threshold" | "options" | "provider"
            | "providerOutput" => {}
            "metadata" => ctx.note(p, "test metadata", "informational; dropped"),
            other => {
                ctx.skip(
                    place.clone(),
                    &format!("test key `{other}`"),
                    "no ai-evals counterpart; the test is skipped",
                );
                return Vec::new();
            }
        }
    }
    if let Some(d) = node.get("description").and_then(Node::as_str) {
        test.insert("description".into(), json!(d));
    }
    let mut grader = None;
    if let Some(options) = node.get("options") {
        let p = place.child(options.line, "options");
        let before = ctx.skipped.len();
        let mut unused = Map::new();
        grader = grading_options(ctx, options, &p, false, &mut unused).0;
        if ctx.skipped.len() > before {
            ctx.skip(
                place.clone(),
                "test",
                "its options change what is sent or checked; the test is skipped",
            );
            return Vec::new();
        }
    }
    if let Some(pr) = node.get("provider") {
        let p = place.child(pr.line, "provider");
        let name = match &pr.kind {
            Kind::Str(id) => ctx
                .providers
                .iter()
                .find(|x| x.aliases.iter().any(|a| a == id))
                .map(|x| x.name.clone())
                .or_else(|| providers::convert_one(ctx, id, None, None, &p)),
            Kind::Map(_) => match pr.get("id").and_then(Node::as_str) {
                Some(id) => providers::convert_one(
                    ctx,
                    id,
                    pr.get("label").and_then(Node::as_str),
                    Some(pr),
                    &p,
                ),
                None => None,
            },
            _ => None,
        };
        match name {
            Some(n) => {
                test.insert("provider".into(), json!(n));
            }
            None => {
                ctx.skip(
                    p,
                    "test provider",
                    "cannot be converted; the test is skipped",
                );
                return Vec::new();
            }
        }
    }
    if let Some(t) = node.get("threshold") {
        match t.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => {
                test.insert("threshold".into(), json!(x));
            }
            _ => {
                ctx.skip(
                    place.child(t.line, "threshold"),
                    "test threshold",
                    "not a number between 0 and 1 (ai-evals' range); the test is skipped",
                );
                return Vec::new();
            }
        }
    }
    if let Some(o) = node.get("providerOutput") {
        match o.as_str() {
            Some(s) => {
                test.insert("output".into(), json!(s));
            }
            None => {
                ctx.skip(
                    place.child(o.line, "providerOutput"),
                    "providerOutput",
                    "not a text; the test is skipped",
                );
                return Vec::new();
            }
        }
    }
    if let Some(list) = node.get("assert") {
        let asserts = convert_asserts(
            ctx,
            list,
            &place.child(list.line, "assert"),
            origin,
            grader.as_deref(),
            graded,
        );
        if !asserts.is_empty() {
            test.insert("assert".into(), Value::Array(asserts));
        }
    }

    // Vars: defaultTest's (when merged per test), then the test's.
    let mut vars: Vec<(String, Node)> = if dflt.vars_in_defaults {
        Vec::new()
    } else {
        dflt.vars.clone()
    };
    if let Some(v) = node.get("vars") {
        let p = place.child(v.line, "vars");
        match &v.kind {
            Kind::Map(entries) => {
                for (k, val) in entries {
                    vars.retain(|(x, _)| x != k);
                    vars.push((k.clone(), val.clone()));
                }
            }
            Kind::Str(_) | Kind::Seq(_) => {
                // Paths of YAML files whose mappings are merged.
                let paths: Vec<String> = match &v.kind {
                    Kind::Str(s) => vec![s.clone()],
                    Kind::Seq(items) => items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect(),
                    _ => vec![],
                };
                for path in paths {
                    match load_vars_files(ctx, &path) {
                        Ok(entries) => {
                            for (k, val) in entries {
                                vars.retain(|(x, _)| *x != k);
                                vars.push((k, val));
                            }
                        }
                        Err(e) => {
                            ctx.skip(p.clone(), "vars file", &format!("{e}; the test is skipped"));
                            return Vec::new();
                        }
                    }
                }
            }
            Kind::Null => {}
            _ => {
                ctx.skip(p, "vars", "not a mapping; the test is skipped");
                return Vec::new();
            }
        }
    }
    let defaults_json: Map<String, Value> = if dflt.vars_in_defaults {
        dflt.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect()
    } else {
        Map::new()
    };

    let combos = match combinations(ctx, &vars) {
        Ok(c) => c,
        Err(why) => {
            ctx.skip(
                place.clone(),
                "test vars",
                &format!("{why}; the test is skipped"),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for combo in combos {
        let mut merged = defaults_json.clone();
        let mut own = Map::new();
        let mut failed = None;
        for (k, v) in combo {
            let v = match v {
                Value::String(s) if s.starts_with("file://") => {
                    match load_var_file(ctx, &s["file://".len()..]) {
                        Ok(text) => Value::String(text),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                other => other,
            };
            let v = match v {
                Value::String(s) => Value::String(strip_newline(&s)),
                Value::Number(n)
                    if n.as_f64().is_some_and(|f| {
                        f.fract() == 0.0 && n.as_i64().is_none() && f.abs() < 9e15
                    }) =>
                {
                    json!(n.as_f64().unwrap() as i64)
                }
                other => other,
            };
            merged.insert(k.clone(), v.clone());
            own.insert(k, v);
        }
        if let Some(e) = failed {
            ctx.skip(
                place.clone(),
                "test vars",
                &format!("{e}; the test is skipped"),
            );
            continue;
        }
        // {{ name }} inside a var value: resolved once here.
        let before = merged.clone();
        resolve_variables(&mut merged);
        for (k, v) in &merged {
            if before.get(k) != Some(v) || own.contains_key(k) {
                own.insert(k.clone(), v.clone());
            }
        }
        let mut nulls = false;
        for v in own.values_mut() {
            if v.is_null() {
                *v = Value::String(String::new());
                nulls = true;
            }
        }
        if nulls {
            ctx.note(
                place.clone(),
                "test vars",
                "null values became \"\" (Nunjucks renders null as nothing, minijinja as `none`)",
            );
        }
        let mut t = test.clone();
        t.insert("vars".into(), Value::Object(own));
        out.push(t);
    }
    out
}

fn strip_newline(s: &str) -> String {
    s.strip_suffix('\n').unwrap_or(s).to_string()
}

fn null_to_empty(v: Value) -> Value {
    if v.is_null() {
        Value::String(String::new())
    } else {
        v
    }
}

/// promptfoo's `generateVarCombinations`.
fn combinations(
    ctx: &mut Ctx,
    vars: &[(String, Node)],
) -> Result<Vec<Vec<(String, Value)>>, String> {
    let mut combos: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for (k, v) in vars {
        let values: Vec<Value> = match &v.kind {
            Kind::Str(s) if s.starts_with("file://") => {
                let rel = &s["file://".len()..];
                let pattern = ctx.resolve(rel).to_string_lossy().to_string();
                let found: Vec<String> = glob::glob(&pattern)
                    .map_err(|e| format!("bad glob {rel}: {e}"))?
                    .filter_map(Result::ok)
                    .map(|p| {
                        p.strip_prefix(&ctx.dir)
                            .unwrap_or(&p)
                            .to_string_lossy()
                            .to_string()
                    })
                    .collect();
                if found.is_empty() {
                    return Err(format!("no file matches {s}"));
                }
                found
                    .into_iter()
                    .map(|f| Value::String(format!("file://{f}")))
                    .collect()
            }
            Kind::Seq(items) if matches!(items.first().map(|i| &i.kind), Some(Kind::Str(_))) => {
                items.iter().map(Node::to_json).collect()
            }
            _ => vec![v.to_json()],
        };
        let mut next = Vec::new();
        for c in &combos {
            for val in &values {
                let mut c2 = c.clone();
                c2.push((k.clone(), val.clone()));
                next.push(c2);
            }
        }
        combos = next;
    }
    Ok(combos)
}

/// A `file://` var: text trimmed; YAML as its JSON text.
fn load_var_file(ctx: &mut Ctx, rel: &str) -> Result<String, String> {
    let lower = rel.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or("");
    if ["js", "cjs", "mjs", "ts", "py"].contains(&ext) {
        return Err(format!("var file {rel} is a script"));
    }
    if [
        "pdf", "jpg", "jpeg", "png", "gif", "bmp", "webp", "svg", "mp4", "webm", "ogg", "mov",
        "avi", "wmv", "mkv", "m4v",
    ]
    .contains(&ext)
    {
        return Err(format!(
            "var file {rel} is a PDF, image or video, which promptfoo converts to text or base64"
        ));
    }
    let path = ctx.resolve(rel);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read var file {rel}: {e}"))?;
    if ext == "yaml" || ext == "yml" {
        let node = super::yaml::parse(&text).map_err(|e| format!("var file {rel}: {e}"))?;
        return Ok(serde_json::to_string(&node.to_json()).unwrap());
    }
    Ok(text.trim().to_string())
}

/// YAML files of vars (`vars: file://vars.yaml`), merged in order.
fn load_vars_files(ctx: &mut Ctx, path: &str) -> Result<Vec<(String, Node)>, String> {
    let rel = path.strip_prefix("file://").unwrap_or(path);
    let pattern = ctx.resolve(rel).to_string_lossy().to_string();
    let mut out: Vec<(String, Node)> = Vec::new();
    for p in glob::glob(&pattern)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
    {
        let text =
            std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let node = super::yaml::parse(&text)?;
        for (k, v) in node.entries().unwrap_or(&[]) {
            out.retain(|(x, _)| x != k);
            out.push((k.clone(), v.clone()));
        }
    }
    Ok(out)
}

/// promptfoo's `resolveVariables`: `{{ name }}` in a string var is replaced by
/// the var's value, the first occurrence per var per round, up to 5 rounds.
fn resolve_variables(vars: &mut Map<String, Value>) {
    for _ in 0..5 {
        let mut changed = false;
        let keys: Vec<String> = vars.keys().cloned().collect();
        for key in keys {
            let Some(Value::String(s)) = vars.get(&key) else {
                continue;
            };
            let Some((start, end, name)) = first_placeholder(s) else {
                continue;
            };
            let replacement = match vars.get(&name) {
                None => continue,
                Some(Value::String(r)) => r.clone(),
                Some(Value::Number(n)) => js_number(n.as_f64().unwrap_or(f64::NAN)),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Null) => "null".into(),
                Some(_) => "[object Object]".into(),
            };
            let new = format!("{}{}{}", &s[..start], replacement, &s[end..]);
            vars.insert(key, Value::String(new));
            changed = true;
        }
        if !changed {
            break;
        }
    }
}

/// The first `{{\s*(\w+)\s*}}` in `s`: (start, end, name).
fn first_placeholder(s: &str) -> Option<(usize, usize, String)> {
    let mut from = 0;
    while let Some(p) = s[from..].find("{{") {
        let start = from + p;
        let rest = &s[start + 2..];
        let trimmed = rest.trim_start();
        let lead = rest.len() - trimmed.len();
        let name_len = trimmed
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(trimmed.len());
        if name_len > 0 {
            let after = &trimmed[name_len..];
            let after_trim = after.trim_start();
            if after_trim.starts_with("}}") {
                let end = start + 2 + lead + name_len + (after.len() - after_trim.len()) + 2;
                return Some((start, end, trimmed[..name_len].to_string()));
            }
        }
        from = start + 2;
    }
    None
}

/// Tests from a path or glob: each file becomes a JSONL dataset.
fn file_tests(
    ctx: &mut Ctx,
    path: &str,
    place: &Place,
    dflt: &Defaults,
    out: &mut Converted,
    graded: &mut Graded,
) {
    let rel = path.strip_prefix("file://").unwrap_or(path);
    let what = format!("tests file {path}");
    if rel.starts_with("https://")
        || rel.starts_with("huggingface://")
        || rel.starts_with("langfuse://")
        || rel.starts_with("az://")
    {
        ctx.skip(
            place.clone(),
            &what,
            "a remote test source (Google Sheets, Hugging Face, …) is not fetched",
        );
        return;
    }
    let lower = rel.to_ascii_lowercase();
    let without_fn = match lower.rsplit_once(':') {
        Some((p, _)) if p.len() > 1 => p.to_string(),
        _ => lower.clone(),
    };
    if [".js", ".ts", ".mjs", ".cjs", ".py"]
        .iter()
        .any(|e| without_fn.ends_with(e))
    {
        ctx.skip(
            place.clone(),
            &what,
            "tests generated by a script; ai-evals runs no code",
        );
        return;
    }
    if lower.contains(".xlsx") || lower.contains(".xls") {
        ctx.skip(
            place.clone(),
            &what,
            "Excel test files are not converted (export them to CSV)",
        );
        return;
    }
    let pattern = ctx.resolve(rel).to_string_lossy().to_string();
    let files: Vec<std::path::PathBuf> = match glob::glob(&pattern) {
        Ok(g) => g.filter_map(Result::ok).filter(|p| p.is_file()).collect(),
        Err(e) => {
            ctx.skip(place.clone(), &what, &format!("bad glob: {e}"));
            return;
        }
    };
    if files.is_empty() {
        ctx.skip(place.clone(), &what, "no file matches");
        return;
    }
    for file in files {
        let shown = file
            .strip_prefix(&ctx.dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                ctx.skip(
                    place.clone(),
                    &format!("tests file {shown}"),
                    &format!("cannot be read: {e}"),
                );
                continue;
            }
        };
        let ext = file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut rows: Vec<Map<String, Value>> = Vec::new();
        match ext.as_str() {
            "csv" => {
                for (line, row, test) in csv_tests(ctx, &text, &shown) {
                    let p = Place::new(&shown, Some(line), format!("row {row}"));
                    rows.extend(convert_test(ctx, &test, &p, Origin::Csv, dflt, graded));
                }
            }
            "yaml" | "yml" | "json" | "jsonl" => {
                let nodes: Vec<Node> = if ext == "jsonl" {
                    let mut v = Vec::new();
                    for (i, l) in text
                        .lines()
                        .enumerate()
                        .filter(|(_, l)| !l.trim().is_empty())
                    {
                        match serde_json::from_str::<Value>(l) {
                            Ok(j) => v.push(Node::from_json(&j, i + 1)),
                            Err(e) => ctx.skip(
                                Place::new(&shown, Some(i + 1), ""),
                                "test",
                                &format!("invalid JSON: {e}"),
                            ),
                        }
                    }
                    v
                } else {
                    match super::yaml::parse(&text) {
                        Ok(n) => {
                            let n = super::resolve_refs(&n, &n, 0);
                            match n.kind {
                                Kind::Seq(items) => items,
                                Kind::Map(_) => vec![n],
                                _ => Vec::new(),
                            }
                        }
                        Err(e) => {
                            ctx.skip(
                                Place::new(&shown, None, ""),
                                "tests file",
                                &format!("does not parse: {e}"),
                            );
                            continue;
                        }
                    }
                };
                for (i, n) in nodes.iter().enumerate() {
                    let p = Place::new(&shown, Some(n.line), format!("[{i}]"));
                    rows.extend(convert_test(ctx, n, &p, Origin::Yaml, dflt, graded));
                }
            }
            _ => {
                ctx.skip(
                    place.clone(),
                    &format!("tests file {shown}"),
                    "an unsupported file type",
                );
                continue;
            }
        }
        let mut contents = String::new();
        for r in &rows {
            contents.push_str(&serde_json::to_string(r).expect("a row serializes"));
            contents.push('\n');
        }
        let stem = shown.rsplit_once('.').map(|(s, _)| s).unwrap_or(&shown);
        let name = ctx.add_file(&format!("{stem}.converted.jsonl"), contents);
        out.datasets.push(name);
    }
}

/// CSV rows as promptfoo test cases (`testCaseFromCsvRow`), with their lines.
fn csv_tests(ctx: &mut Ctx, text: &str, shown: &str) -> Vec<(usize, usize, Node)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => {
            ctx.skip(Place::new(shown, Some(1), ""), "CSV header", &e.to_string());
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (idx, record) in reader.records().enumerate() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                ctx.skip(
                    Place::new(shown, None, format!("row {}", idx + 1)),
                    "CSV row",
                    &e.to_string(),
                );
                continue;
            }
        };
        let line = record
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or(idx + 2);
        let place = Place::new(shown, Some(line), format!("row {}", idx + 1));
        if record.len() != headers.len() {
            ctx.skip(
                place,
                "CSV row",
                &format!(
                    "{} columns where the header has {}",
                    record.len(),
                    headers.len()
                ),
            );
            continue;
        }
        let mut vars = Map::new();
        let mut asserts: Vec<Value> = Vec::new();
        let mut configs: Vec<(usize, f64)> = Vec::new();
        let mut description = None;
        let mut metric = None;
        let mut threshold = None;
        let mut provider_output = None;
        let mut metadata = false;
        let mut prefix = false;
        for (key, value) in headers.iter().zip(record.iter()) {
            let key = key.as_str();
            if key.starts_with("__expected") {
                if !value.trim().is_empty() {
                    match assertions::from_csv_string(value.trim()) {
                        Ok(a) => asserts.push(a),
                        Err(e) => ctx.skip(place.child(line, key), "CSV assertion", &e),
                    }
                }
            } else if key == "__prefix" || key == "__suffix" {
                prefix |= !value.is_empty();
            } else if key == "__description" {
                description = Some(value.to_string());
            } else if key == "__providerOutput" {
                provider_output = Some(value.to_string()).filter(|v| !v.is_empty());
            } else if key == "__metric" {
                metric = Some(value.to_string());
            } else if key == "__threshold" {
                threshold = parse_float(value).filter(|t| *t != 0.0);
                if parse_float(value) == Some(0.0) {
                    ctx.note(place.clone(), "CSV __threshold 0", "ignored, as promptfoo ignores it (a threshold of 0 is falsy there): the row fails on any failing assertion");
                }
            } else if key.starts_with("__metadata") {
                metadata |= !value.trim().is_empty();
            } else if let Some(rest) = key.strip_prefix("__config:") {
                let parts: Vec<&str> = rest.split(':').collect();
                let index = match parts.as_slice() {
                    ["__expected", "threshold"] => Some(0),
                    [e, "threshold"] => e
                        .strip_prefix("__expected")
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|n| *n >= 1)
                        .map(|n| n - 1),
                    _ => None,
                };
                match (index, parse_float(value)) {
                    (Some(i), Some(t)) => configs.push((i, t)),
                    (None, _) => ctx.skip(
                        place.child(line, key),
                        "CSV __config column",
                        "only __config:__expected[N]:threshold converts",
                    ),
                    (Some(_), None) => ctx.skip(
                        place.child(line, key),
                        "CSV __config column",
                        "not a number: promptfoo stops loading the file with an error",
                    ),
                }
            } else {
                vars.insert(key.to_string(), Value::String(value.to_string()));
            }
        }
        if prefix {
            ctx.skip(
                place.clone(),
                "CSV __prefix/__suffix",
                "prompt prefixes and suffixes have no ai-evals counterpart; the row is skipped",
            );
            continue;
        }
        if metadata {
            ctx.note(
                place.clone(),
                "CSV __metadata columns",
                "informational; dropped",
            );
        }
        for (i, t) in configs {
            if let Some(Value::Object(a)) = asserts.get_mut(i) {
                a.insert("threshold".into(), json!(t));
            }
        }
        if let Some(m) = &metric {
            for a in asserts.iter_mut() {
                if let Value::Object(a) = a {
                    a.insert("metric".into(), json!(m));
                }
            }
        }
        let mut test = Map::new();
        test.insert("vars".into(), Value::Object(vars));
        test.insert("assert".into(), Value::Array(asserts));
        test.insert(
            "description".into(),
            json!(
                description
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| format!("Row #{}", idx + 1))
            ),
        );
        if let Some(t) = threshold {
            test.insert("threshold".into(), json!(t));
        }
        if let Some(o) = provider_output {
            test.insert("providerOutput".into(), json!(o));
        }
        out.push((line, idx + 1, Node::from_json(&Value::Object(test), line)));
    }
    out
}

/// JavaScript's `parseFloat`: the longest leading number.
fn parse_float(s: &str) -> Option<f64> {
    let s = s.trim_start();
    let mut end = 0;
    let b = s.as_bytes();
    if end < b.len() && (b[end] == b'-' || b[end] == b'+') {
        end += 1;
    }
    while end < b.len() && (b[end].is_ascii_digit() || b[end] == b'.') {
        end += 1;
    }
    let mut best = None;
    for e in (1..=end).rev() {
        if let Ok(v) = s[..e].parse::<f64>() {
            best = Some(v);
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_resolution() {
        assert_eq!(first_placeholder("a {{ b }} c"), Some((2, 9, "b".into())));
        assert_eq!(first_placeholder("{{b.c}}"), None);
        let mut m: Map<String, Value> =
            serde_json::from_value(json!({"a": "hi {{ b }}", "b": "{{c}}!", "c": 3})).unwrap();
        resolve_variables(&mut m);
        assert_eq!(m["a"], "hi 3!");
        assert_eq!(m["b"], "3!");
    }

    #[test]
    fn parse_floats() {
        assert_eq!(parse_float("0.5"), Some(0.5));
        assert_eq!(parse_float("0.5abc"), Some(0.5));
        assert_eq!(parse_float(""), None);
        assert_eq!(parse_float("x"), None);
    }
}
