//! `defaultTest` → `[defaults]` (threshold, assertions, simple vars) and
//! `[grading]` (its options' graders and rubric prompt).

use serde_json::{Map, Value};

use super::super::assertions::{Graded, Origin};
use super::super::yaml::{self, Kind, Node};
use super::super::{Ctx, Place};
use super::{
    Converted, Defaults, Transforms, convert_asserts, fit_for_toml, grading_options, null_to_empty,
    strip_newline, strip_nulls,
};

/// The judge and embeddings graders defaultTest's options name.
pub(super) type Graders = (Option<String>, Option<String>);

/// Converts defaultTest into `out` and `dflt`; returns the graders its
/// options name, or `None` when its file cannot be loaded.
pub(super) fn convert(
    ctx: &mut Ctx,
    dt: &Node,
    out: &mut Converted,
    dflt: &mut Defaults,
    graded: &mut Graded,
) -> Option<Graders> {
    let place = Place::config(ctx, dt.line, "defaultTest");
    let loaded;
    let dt = match dt.as_str() {
        Some(s) if s.starts_with("file://") => {
            loaded = load(ctx, s, &place)?;
            &loaded
        }
        _ => dt,
    };
    check_keys(ctx, dt, &place);
    let mut graders = (None, None);
    if let Some(options) = dt.get("options") {
        let p = place.child(options.line, "options");
        let mut transforms = Transforms::default();
        graders = grading_options(ctx, options, &p, true, &mut out.grading, &mut transforms);
        out.defaults.transform = transforms.output;
        out.defaults.transform_vars = transforms.vars;
    }
    if let Some(vars) = dt.get("vars") {
        read_vars(ctx, vars, &place, dflt);
    }
    if let Some(t) = dt.get("threshold") {
        read_threshold(ctx, t, &place, out);
    }
    if let Some(list) = dt.get("assert") {
        let p = place.child(list.line, "assert");
        let asserts = convert_asserts(ctx, list, &p, Origin::Yaml, None, graded);
        out.defaults.assert = fit_for_toml(ctx, asserts, &p);
    }
    Some(graders)
}

/// `defaultTest: file://…`: the YAML file's test.
fn load(ctx: &mut Ctx, s: &str, place: &Place) -> Option<Node> {
    let loaded = std::fs::read_to_string(ctx.resolve(&s["file://".len()..]))
        .map_err(|e| e.to_string())
        .and_then(|t| yaml::parse(&t));
    match loaded {
        Ok(n) => Some(n),
        Err(e) => {
            let why = format!("cannot load {s}: {e}");
            ctx.skip(place.clone(), "defaultTest", &why);
            None
        }
    }
}

fn check_keys(ctx: &mut Ctx, dt: &Node, place: &Place) {
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
}

fn read_vars(ctx: &mut Ctx, vars: &Node, place: &Place, dflt: &mut Defaults) {
    let p = place.child(vars.line, "vars");
    let Some(entries) = vars.entries() else {
        ctx.skip(p, "defaultTest.vars", "not a mapping");
        return;
    };
    dflt.vars = entries.to_vec();
    dflt.vars_in_defaults = entries.iter().all(|(_, v)| simple_var(v));
    if !dflt.vars_in_defaults {
        ctx.note(
            p,
            "defaultTest.vars",
            "merged into every test (they expand, load files or refer to other vars)",
        );
    }
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

fn read_threshold(ctx: &mut Ctx, t: &Node, place: &Place, out: &mut Converted) {
    match t.as_f64() {
        Some(t) if (0.0..=1.0).contains(&t) => out.defaults.threshold = Some(t),
        _ => ctx.skip(
            place.child(t.line, "threshold"),
            "defaultTest.threshold",
            "not a number between 0 and 1 (ai-evals' range)",
        ),
    }
}

/// `[defaults] vars` when defaultTest's vars need no per-test treatment.
pub(super) fn defaults_vars(dflt: &Defaults) -> Option<Map<String, Value>> {
    if !dflt.vars_in_defaults || dflt.vars.is_empty() {
        return None;
    }
    let mut m = Map::new();
    for (k, v) in &dflt.vars {
        let mut value = v.to_json();
        if let Value::String(s) = &value {
            value = Value::String(strip_newline(s));
        }
        m.insert(k.clone(), null_to_empty(value));
    }
    strip_nulls(&mut m);
    Some(m)
}
