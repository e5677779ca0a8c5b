//! One promptfoo test → one or more ai-evals tests (array vars expand).

use serde_json::{Map, Value, json};

use super::super::assertions::{Graded, Origin};
use super::super::providers;
use super::super::yaml::{Kind, Node};
use super::super::{Ctx, Place};
use super::vars::{combinations, load_var_file, load_vars_files, resolve_variables};
use super::{Defaults, Transforms, convert_asserts, grading_options, strip_newline};
use crate::config::{GradingSpec, TestSpec};

/// One promptfoo test → its ai-evals tests; none when the test is skipped.
/// What cannot convert, and what may grade differently, names the test.
pub(super) fn convert_test(
    ctx: &mut Ctx,
    node: &Node,
    place: &Place,
    origin: Origin,
    dflt: &Defaults,
    graded: &mut Graded,
) -> Vec<TestSpec> {
    let description = node.get("description").and_then(Node::as_str);
    ctx.in_test(description, |ctx| {
        convert_described(ctx, node, place, origin, dflt, graded)
    })
}

fn convert_described(
    ctx: &mut Ctx,
    node: &Node,
    place: &Place,
    origin: Origin,
    dflt: &Defaults,
    graded: &mut Graded,
) -> Vec<TestSpec> {
    let Some(test) = test_fields(ctx, node, place, origin, graded) else {
        return Vec::new();
    };
    let Some(vars) = test_vars(ctx, node, place, dflt) else {
        return Vec::new();
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
    let defaults_json: Map<String, Value> = if dflt.vars_in_defaults {
        dflt.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect()
    } else {
        Map::new()
    };
    let mut out = Vec::new();
    for combo in combos {
        if let Some(own) = combo_vars(ctx, combo, &defaults_json, place) {
            out.push(TestSpec {
                vars: own,
                ..test.clone()
            });
        }
    }
    out
}

/// Everything of a test but its vars; `None` when the test is skipped.
fn test_fields(
    ctx: &mut Ctx,
    node: &Node,
    place: &Place,
    origin: Origin,
    graded: &mut Graded,
) -> Option<TestSpec> {
    check_keys(ctx, node, place)?;
    let mut test = TestSpec {
        description: node
            .get("description")
            .and_then(Node::as_str)
            .map(str::to_string),
        ..TestSpec::default()
    };
    let (grader, transforms) = test_options(ctx, node, place)?;
    test.transform = transforms.output;
    test.transform_vars = transforms.vars;
    if let Some(pr) = node.get("provider") {
        test.provider = Some(test_provider(ctx, pr, place)?);
    }
    if let Some(t) = node.get("threshold") {
        test.threshold = Some(test_threshold(ctx, t, place)?);
    }
    if let Some(o) = node.get("providerOutput") {
        test.output = Some(provider_output(ctx, o, place)?.to_string());
    }
    if let Some(list) = node.get("assert") {
        test.assert = convert_asserts(
            ctx,
            list,
            &place.child(list.line, "assert"),
            origin,
            grader.as_deref(),
            graded,
        );
    }
    warn_all_weightless(ctx, &test, place);
    Some(test)
}

/// promptfoo scores a test whose assertions all weigh 0 as 0, ai-evals as
/// 1: it matters only against a threshold.
fn warn_all_weightless(ctx: &mut Ctx, test: &TestSpec, place: &Place) {
    if test.threshold.is_some()
        && !test.assert.is_empty()
        && test.assert.iter().all(|a| a.weight == Some(0.0))
    {
        ctx.warn(
            place.clone(),
            "test threshold",
            "every assertion weighs 0: promptfoo scores the test 0, ai-evals 1, so the threshold may decide differently",
        );
    }
}

/// `None` when a key with no ai-evals counterpart rules the test out.
fn check_keys(ctx: &mut Ctx, node: &Node, place: &Place) -> Option<()> {
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
                return None;
            }
        }
    }
    Some(())
}

/// The judge the test's `options.provider` names, and its transforms;
/// `None` when other options rule the test out.
fn test_options(ctx: &mut Ctx, node: &Node, place: &Place) -> Option<(Option<String>, Transforms)> {
    let Some(options) = node.get("options") else {
        return Some((None, Transforms::default()));
    };
    let p = place.child(options.line, "options");
    let before = ctx.skipped.len();
    let mut unused = GradingSpec::default();
    let mut transforms = Transforms::default();
    let grader = grading_options(ctx, options, &p, false, &mut unused, &mut transforms).0;
    if ctx.skipped.len() > before {
        ctx.skip(
            place.clone(),
            "test",
            "its options change what is sent or checked; the test is skipped",
        );
        return None;
    }
    Some((grader, transforms))
}

/// The suite's name of the test's own provider (converted when new).
fn test_provider(ctx: &mut Ctx, pr: &Node, place: &Place) -> Option<String> {
    let p = place.child(pr.line, "provider");
    let name = match &pr.kind {
        Kind::Str(id) => providers::convert_one(ctx, id, None, None, &p),
        Kind::Map(_) => match pr.get("id").and_then(Node::as_str) {
            Some(id) => {
                let label = pr.get("label").and_then(Node::as_str);
                providers::convert_one(ctx, id, label, Some(pr), &p)
            }
            None => None,
        },
        _ => None,
    };
    if name.is_none() {
        ctx.skip(
            p,
            "test provider",
            "cannot be converted; the test is skipped",
        );
    }
    name
}

fn test_threshold(ctx: &mut Ctx, t: &Node, place: &Place) -> Option<f64> {
    match t.as_f64() {
        Some(x) if (0.0..=1.0).contains(&x) => Some(x),
        _ => {
            ctx.skip(
                place.child(t.line, "threshold"),
                "test threshold",
                "not a number between 0 and 1 (ai-evals' range); the test is skipped",
            );
            None
        }
    }
}

fn provider_output<'n>(ctx: &mut Ctx, o: &'n Node, place: &Place) -> Option<&'n str> {
    let s = o.as_str();
    if s.is_none() {
        ctx.skip(
            place.child(o.line, "providerOutput"),
            "providerOutput",
            "not a text; the test is skipped",
        );
    }
    s
}

/// The test's vars as written: defaultTest's (when merged per test), then
/// the test's own or its vars files'. `None` when the test is skipped.
fn test_vars(
    ctx: &mut Ctx,
    node: &Node,
    place: &Place,
    dflt: &Defaults,
) -> Option<Vec<(String, Node)>> {
    let mut vars: Vec<(String, Node)> = if dflt.vars_in_defaults {
        Vec::new()
    } else {
        dflt.vars.clone()
    };
    let Some(v) = node.get("vars") else {
        return Some(vars);
    };
    let p = place.child(v.line, "vars");
    let own: Vec<(String, Node)> = match &v.kind {
        Kind::Map(entries) => entries.clone(),
        Kind::Str(_) | Kind::Seq(_) => vars_files(ctx, v, &p)?,
        Kind::Null => Vec::new(),
        _ => {
            ctx.skip(p, "vars", "not a mapping; the test is skipped");
            return None;
        }
    };
    for (k, val) in own {
        vars.retain(|(x, _)| *x != k);
        vars.push((k, val));
    }
    Some(vars)
}

/// `vars: file://…` (or a list of them): YAML files whose mappings are merged.
fn vars_files(ctx: &mut Ctx, v: &Node, p: &Place) -> Option<Vec<(String, Node)>> {
    let paths: Vec<String> = match &v.kind {
        Kind::Str(s) => vec![s.clone()],
        Kind::Seq(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    };
    let mut vars: Vec<(String, Node)> = Vec::new();
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
                return None;
            }
        }
    }
    Some(vars)
}

/// The vars one combination sets, as the test's own vars (those that differ
/// from `[defaults]` after resolution); `None` when a file var fails.
fn combo_vars(
    ctx: &mut Ctx,
    combo: Vec<(String, Value)>,
    defaults_json: &Map<String, Value>,
    place: &Place,
) -> Option<Map<String, Value>> {
    let mut merged = defaults_json.clone();
    let mut own = Map::new();
    for (k, v) in combo {
        let v = match var_value(ctx, v) {
            Ok(v) => v,
            Err(e) => {
                ctx.skip(
                    place.clone(),
                    "test vars",
                    &format!("{e}; the test is skipped"),
                );
                return None;
            }
        };
        merged.insert(k.clone(), v.clone());
        own.insert(k, v);
    }
    // {{ name }} inside a var value: resolved once here.
    let before = merged.clone();
    resolve_variables(&mut merged);
    for (k, v) in &merged {
        if before.get(k) != Some(v) || own.contains_key(k) {
            own.insert(k.clone(), v.clone());
        }
    }
    nulls_to_empty(ctx, &mut own, place);
    if ctx.json_prompts {
        warn_json_breakers(ctx, &merged, place);
    }
    Some(own)
}

/// promptfoo renders a JSON chat prompt as one template and then parses
/// it: a variable with a quote, a backslash or a line break makes it
/// invalid JSON, and the test an error there; ai-evals renders each
/// message, or sends an unparsable rendering as text.
fn warn_json_breakers(ctx: &mut Ctx, vars: &Map<String, Value>, place: &Place) {
    let breaks = |s: &str| s.chars().any(|c| c == '"' || c == '\\' || c < ' ');
    let breaking: Vec<&str> = vars
        .iter()
        .filter(|(_, v)| v.as_str().is_some_and(breaks))
        .map(|(k, _)| k.as_str())
        .collect();
    if !breaking.is_empty() {
        ctx.warn(
            place.clone(),
            "chat prompt",
            &format!(
                "{} a quote, backslash or line break: promptfoo renders its JSON chat prompt into invalid JSON and fails the test, ai-evals sends the messages",
                match breaking.as_slice() {
                    [one] => format!("variable `{one}` has"),
                    many => format!("variables `{}` have", many.join("`, `")),
                }
            ),
        );
    }
}

/// A var's value as promptfoo renders it: a `file://` value loaded, one
/// trailing newline removed, a whole float as an integer.
fn var_value(ctx: &mut Ctx, v: Value) -> Result<Value, String> {
    let v = match v {
        Value::String(s) if s.starts_with("file://") => {
            Value::String(load_var_file(ctx, &s["file://".len()..])?)
        }
        other => other,
    };
    Ok(match v {
        Value::String(s) => Value::String(strip_newline(&s)),
        Value::Number(n)
            if n.as_f64()
                .is_some_and(|f| f.fract() == 0.0 && n.as_i64().is_none() && f.abs() < 9e15) =>
        {
            json!(n.as_f64().unwrap() as i64)
        }
        other => other,
    })
}

/// Nunjucks renders null as nothing, minijinja as `none`: nulls become "".
fn nulls_to_empty(ctx: &mut Ctx, own: &mut Map<String, Value>, place: &Place) {
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
}
