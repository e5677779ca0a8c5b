//! Assertions compiled from their specs and run on outputs.

use super::*;
use serde_json::json;

fn ctx(output: &str) -> Context<'_> {
    Context {
        output,
        latency_ms: None,
        cost_usd: None,
    }
}

fn passes_spec(s: AssertionSpec, c: &Context<'_>) -> bool {
    s.compile().unwrap().evaluate(c).unwrap().passed
}

fn passes(kind: &str, value: Value, output: &str) -> bool {
    passes_spec(AssertionSpec::new(kind, Some(value)), &ctx(output))
}

#[test]
fn every_output_type_and_its_negation() {
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("equals", json!("Bonjour"), "Bonjour", "bonjour"),
        ("contains", json!("ß"), "Straße", "Strasse"),
        ("icontains", json!("ÉTÉ"), "un été chaud", "un hiver"),
        ("contains-any", json!(["猫", "dog"]), "a 猫", "a bird"),
        ("contains-all", json!(["a", "b"]), "b and a", "only a"),
        ("icontains-any", json!(["ÉTÉ", "Dog"]), "un été", "a bird"),
        ("icontains-all", json!(["A", "ß"]), "STRAßE and a", "only a"),
        ("starts-with", json!("✅"), "✅ done", "done ✅"),
        ("regex", json!("^[0-9]+$"), "12345", "12a45"),
        ("word-count", json!({"min": 2, "max": 3}), "deux mots", "un"),
    ];
    for (kind, value, good, bad) in cases {
        assert!(passes(kind, value.clone(), good), "{kind} on {good:?}");
        assert!(!passes(kind, value.clone(), bad), "{kind} on {bad:?}");
        let not = format!("not-{kind}");
        assert!(!passes(&not, value.clone(), good), "{not} on {good:?}");
        assert!(passes(&not, value, bad), "{not} on {bad:?}");
    }
    let is_json = AssertionSpec::new("is-json", None).compile().unwrap();
    assert!(is_json.evaluate(&ctx("{\"ключ\": 1}")).unwrap().passed);
    assert!(!is_json.evaluate(&ctx("nope")).unwrap().passed);
    let not_json = AssertionSpec::new("not-is-json", None).compile().unwrap();
    assert!(not_json.evaluate(&ctx("nope")).unwrap().passed);
    assert!(!not_json.evaluate(&ctx("[]")).unwrap().passed);

    let schema = json!({"type": "object", "required": ["id"]});
    assert!(passes("is-json", schema.clone(), r#"{"id": 1}"#));
    assert!(!passes("is-json", schema.clone(), r#"{"name": 1}"#));
    assert!(passes("not-is-json", schema, r#"{"name": 1}"#));

    let lev = |kind: &str, t| AssertionSpec {
        threshold: Some(t),
        ..AssertionSpec::new(kind, Some(json!("colour")))
    };
    assert!(passes_spec(lev("levenshtein", 1.0), &ctx("color")));
    assert!(!passes_spec(lev("levenshtein", 0.0), &ctx("color")));
    assert!(passes_spec(lev("not-levenshtein", 0.0), &ctx("color")));
}

#[test]
fn latency_and_cost_read_the_call() {
    let limited = |kind: &str, t| AssertionSpec {
        threshold: Some(t),
        ..AssertionSpec::new(kind, None)
    };
    let call = Context {
        output: "x",
        latency_ms: Some(850.0),
        cost_usd: Some(0.002),
    };
    assert!(passes_spec(limited("latency", 1000.0), &call));
    assert!(!passes_spec(limited("latency", 800.0), &call));
    assert!(passes_spec(limited("not-latency", 800.0), &call));
    assert!(passes_spec(limited("cost", 0.01), &call));
    assert!(!passes_spec(limited("cost", 0.001), &call));
    assert!(passes_spec(limited("not-cost", 0.001), &call));
    let given = limited("latency", 1000.0)
        .compile()
        .unwrap()
        .evaluate(&ctx("x"))
        .unwrap();
    assert!(!given.passed);
    assert_eq!(
        given.reason,
        "no call latency was measured (the output was given)"
    );
}

#[test]
fn negation_inverts_score_too() {
    let r = AssertionSpec::new("not-contains", Some(json!("x")))
        .compile()
        .unwrap()
        .evaluate(&ctx("x"))
        .unwrap();
    assert!(!r.passed);
    assert_eq!(r.score, 0.0);
    assert_eq!(r.type_name(), "not-contains");
}

#[test]
fn bad_specs_say_what_is_wrong() {
    let err = |s: AssertionSpec| s.compile().unwrap_err().to_string();
    assert!(
        err(AssertionSpec::new("containz", None)).starts_with("unknown assertion type 'containz'")
    );
    assert_eq!(
        err(AssertionSpec::new("equals", None)),
        "'equals' needs a value"
    );
    assert_eq!(
        err(AssertionSpec::new("is-json", Some(json!("x")))),
        "'is-json' takes no value, or a JSON Schema object, not \"x\""
    );
    assert!(
        err(AssertionSpec::new("is-json", Some(json!({"type": 12}))))
            .starts_with("invalid JSON Schema: ")
    );
    assert!(err(AssertionSpec::new("regex", Some(json!("(")))).starts_with("invalid regex \"(\""));
    assert_eq!(
        err(AssertionSpec::new("contains-any", Some(json!([])))),
        "'contains-any' needs at least one value"
    );
    assert_eq!(
        err(AssertionSpec::new("levenshtein", Some(json!("a")))),
        "'levenshtein' needs a threshold: the most edits allowed"
    );
    assert_eq!(
        err(AssertionSpec::new("latency", None)),
        "'latency' needs a threshold: the most milliseconds the call may take"
    );
    assert_eq!(
        err(AssertionSpec::new(
            "word-count",
            Some(json!({"min": 5, "max": 2}))
        )),
        "'word-count' min 5 is above max 2"
    );
    assert_eq!(
        err(AssertionSpec {
            threshold: Some(2.0),
            ..AssertionSpec::new("similar", Some(json!("a")))
        }),
        "'similar' threshold 2 is not between 0 and 1"
    );
    assert_eq!(
        err(AssertionSpec {
            provider: Some("gpt".into()),
            ..AssertionSpec::new("equals", Some(json!("a")))
        }),
        "'equals' takes no provider"
    );
    let mut weighted = AssertionSpec::new("equals", Some(json!("a")));
    weighted.weight = Some(-1.0);
    assert_eq!(err(weighted), "weight -1 must be a number of at least 0");
}

#[test]
fn templated_values_validate_type_only() {
    let s = AssertionSpec::new("regex", Some(json!("^{{ expected }}$")));
    assert!(s.is_templated());
    assert!(s.validate().is_ok());
    let rendered = s
        .render_value(|t| Ok::<_, SpecError>(t.replace("{{ expected }}", "4")))
        .unwrap();
    assert!(
        rendered
            .compile()
            .unwrap()
            .evaluate(&ctx("4"))
            .unwrap()
            .passed
    );
    let schema = AssertionSpec::new(
        "is-json",
        Some(json!({"description": "{{ not a template }}"})),
    );
    assert!(!schema.is_templated(), "schema texts are data");
}
