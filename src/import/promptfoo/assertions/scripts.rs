//! `javascript` and `python` assertions: the same code, run by ai-evals
//! (JavaScript in its embedded engine, Python in a `python3` subprocess),
//! with a warning for what a script uses that ai-evals does not give it.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::super::{Ctx, Place};
use super::{Assert, Spec, constant};
use crate::assertion::{Code, Language, Script};

/// `javascript` / `python`: inline code (a template in promptfoo, rendered
/// with the test's variables, so translated like one) or a `file://`
/// script; the threshold carries over.
pub(super) fn script(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let language = if a.base == "python" {
        Language::Python
    } else {
        Language::JavaScript
    };
    let code = match &a.value {
        Some(Value::String(code)) if !code.trim().is_empty() => code.clone(),
        _ => return a.skip(ctx, "needs its code, or a file://script, as text"),
    };
    let code = if code.starts_with("file://") {
        match Script::parse(&code, language) {
            Err(why) => return a.skip(ctx, &why),
            Ok(Script {
                code: Code::File { path, .. },
                ..
            }) if !ctx.resolve(&path).is_file() => {
                let why = format!("{path} does not exist");
                return constant(ctx, a, false, &why);
            }
            Ok(_) => code,
        }
    } else {
        a.template(ctx, &code)?
    };
    script_warnings(ctx, &code, language, a.place, &a.what);
    let mut spec = Spec::new(&a.base, a.negate).value(Value::String(code));
    spec.threshold = a.threshold;
    spec.config = a.node.get("config").map(|c| c.to_json());
    Some(spec)
}

/// What a script reads or loads that ai-evals' scripts do not have.
struct Missing {
    pattern: &'static LazyLock<Regex>,
    why: &'static str,
}

static REQUIRE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\brequire\s*\(|\bimport\s*\(|(?m)^\s*import\s.*\bfrom\s"#).expect("valid")
});
static FETCH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bfetch\s*\(").expect("valid"));
static CONTEXT_EXTRAS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"context\s*(\.|\[\s*['"])\s*(logProbs|provider\b['"]?\s*(\.|\[)|trace|metadata)|['"]?test['"]?\s*\]?\s*(\.|\[\s*['"])\s*(metadata|assert|options)\b"#,
    )
    .expect("valid")
});

const JAVASCRIPT_MISSING: &[Missing] = &[
    Missing {
        pattern: &REQUIRE,
        why: "loads modules (require or import); ai-evals' JavaScript engine has no Node.js modules and loads one file, so the script fails there",
    },
    Missing {
        pattern: &FETCH,
        why: "calls fetch(); ai-evals' JavaScript engine has no network, so the script fails there",
    },
];

const CONTEXT_MISSING: Missing = Missing {
    pattern: &CONTEXT_EXTRAS,
    why: "reads a part of promptfoo's context that ai-evals gives empty (test metadata, options and assertions, the provider object, log probabilities, traces)",
};

/// Warns about what `code` (inline code in `language`, or the file it
/// names) uses that ai-evals does not give a script; `what` names the
/// assertion or transform.
pub fn script_warnings(ctx: &mut Ctx, code: &str, language: Language, place: &Place, what: &str) {
    let Ok(script) = Script::parse(code, language) else {
        return;
    };
    let text = match &script.code {
        Code::Inline(code) => code.clone(),
        Code::File { path, .. } => match std::fs::read_to_string(ctx.resolve(path)) {
            Ok(text) => text,
            Err(e) => {
                ctx.warn(
                    place.clone(),
                    what,
                    &format!("cannot read {path} ({e}); the suite will not load until it is there"),
                );
                return;
            }
        },
    };
    let mut checks: Vec<&Missing> = vec![&CONTEXT_MISSING];
    if script.language == Language::JavaScript {
        checks.extend(JAVASCRIPT_MISSING);
    }
    for missing in checks {
        if missing.pattern.is_match(&text) {
            ctx.warn(place.clone(), what, missing.why);
        }
    }
}
