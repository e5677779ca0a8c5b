//! CSV test files read as promptfoo reads them (`testCaseFromCsvRow`):
//! `__expected` columns are assertions, other `__` columns set test fields,
//! the rest are variables.

use serde_json::{Map, Value, json};

use super::super::assertions;
use super::super::jsregex::is_js_space;
use super::super::yaml::Node;
use super::super::{Ctx, Place};

/// CSV rows as promptfoo test cases, each with its line and row number.
pub(super) fn csv_tests(ctx: &mut Ctx, text: &str, shown: &str) -> Vec<(usize, usize, Node)> {
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
            let why = format!(
                "{} columns where the header has {}",
                record.len(),
                headers.len()
            );
            ctx.skip(place, "CSV row", &why);
            continue;
        }
        let mut row = Row::default();
        for (key, value) in headers.iter().zip(record.iter()) {
            row.read_column(ctx, key, value, &place, line);
        }
        if let Some(test) = row.into_test(ctx, &place, idx + 1) {
            out.push((line, idx + 1, Node::from_json(&Value::Object(test), line)));
        }
    }
    out
}

/// What a CSV row's columns say, before it becomes a test.
#[derive(Debug, Default)]
struct Row {
    vars: Map<String, Value>,
    asserts: Vec<Value>,
    /// `__config:__expectedN:threshold` columns: (assertion index, threshold).
    configs: Vec<(usize, f64)>,
    description: Option<String>,
    metric: Option<String>,
    threshold: Option<f64>,
    provider_output: Option<String>,
    metadata: bool,
    prefix: bool,
}

impl Row {
    fn read_column(&mut self, ctx: &mut Ctx, key: &str, value: &str, place: &Place, line: usize) {
        if key.starts_with("__expected") {
            let value = value.trim_matches(is_js_space);
            if !value.is_empty() {
                match assertions::from_csv_string(value) {
                    Ok(a) => self.asserts.push(a),
                    Err(e) => ctx.skip(place.child(line, key), "CSV assertion", &e.to_string()),
                }
            }
        } else if key == "__prefix" || key == "__suffix" {
            self.prefix |= !value.is_empty();
        } else if key == "__description" {
            self.description = Some(value.to_string());
        } else if key == "__providerOutput" {
            self.provider_output = Some(value.to_string()).filter(|v| !v.is_empty());
        } else if key == "__metric" {
            self.metric = Some(value.to_string());
        } else if key == "__threshold" {
            self.threshold = parse_finite_number(value);
            if self.threshold == Some(0.0) {
                ctx.note(place.clone(), "CSV __threshold 0", "kept: promptfoo 0.123 passes the row whatever its assertions score (older versions ignored a 0)");
            }
        } else if key.starts_with("__metadata") {
            self.metadata |= !value.trim().is_empty();
        } else if let Some(rest) = key.strip_prefix("__config:") {
            self.read_config(ctx, rest, value, &place.child(line, key));
        } else {
            self.vars
                .insert(key.to_string(), Value::String(value.to_string()));
        }
    }

    /// A `__config:__expected[N]:threshold` column (`rest` follows `__config:`).
    fn read_config(&mut self, ctx: &mut Ctx, rest: &str, value: &str, place: &Place) {
        let what = "CSV __config column";
        let [expected, key] = rest.split(':').collect::<Vec<_>>()[..] else {
            let why = "not of the form __config:__expected[N]:threshold, which promptfoo ignores (with a warning)";
            ctx.note(place.clone(), what, why);
            return;
        };
        let index = match expected.strip_prefix("__expected") {
            Some("") => Some(0),
            Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => {
                n.parse::<usize>().ok().filter(|n| *n >= 1).map(|n| n - 1)
            }
            _ => None,
        };
        match (index, key, parse_finite_number(value)) {
            (Some(i), "threshold", Some(t)) => self.configs.push((i, t)),
            (Some(_), "threshold", None) => ctx.skip(
                place.clone(),
                what,
                "not a number: promptfoo stops loading the file with an error",
            ),
            _ => ctx.skip(
                place.clone(),
                what,
                "only __config:__expected[N]:threshold is valid: promptfoo stops loading the file with an error",
            ),
        }
    }

    /// The test of row `number`, or `None` when the row is skipped.
    fn into_test(
        mut self,
        ctx: &mut Ctx,
        place: &Place,
        number: usize,
    ) -> Option<Map<String, Value>> {
        if self.prefix {
            ctx.skip(
                place.clone(),
                "CSV __prefix/__suffix",
                "prompt prefixes and suffixes have no ai-evals counterpart; the row is skipped",
            );
            return None;
        }
        if self.metadata {
            ctx.note(
                place.clone(),
                "CSV __metadata columns",
                "informational; dropped",
            );
        }
        self.apply_configs();
        let mut test = Map::new();
        test.insert("vars".into(), Value::Object(self.vars));
        test.insert("assert".into(), Value::Array(self.asserts));
        let description = self
            .description
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| format!("Row #{number}"));
        test.insert("description".into(), json!(description));
        if let Some(t) = self.threshold {
            test.insert("threshold".into(), json!(t));
        }
        if let Some(o) = self.provider_output {
            test.insert("providerOutput".into(), json!(o));
        }
        Some(test)
    }

    /// `__config` thresholds, then `__metric`, onto the row's assertions.
    fn apply_configs(&mut self) {
        for (i, t) in &self.configs {
            if let Some(Value::Object(a)) = self.asserts.get_mut(*i) {
                a.insert("threshold".into(), json!(t));
            }
        }
        if let Some(m) = &self.metric {
            for a in self.asserts.iter_mut() {
                if let Value::Object(a) = a {
                    a.insert("metric".into(), json!(m));
                }
            }
        }
    }
}

/// promptfoo's `parseFiniteNumber` for CSV thresholds: a whole decimal
/// literal (trimmed), else nothing; `0` is a threshold like any other.
fn parse_finite_number(s: &str) -> Option<f64> {
    let t = s.trim_matches(is_js_space);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    if !mantissa_ok || !exponent_ok {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_numbers_as_promptfoo_reads_them() {
        assert_eq!(parse_finite_number(" 0.5 "), Some(0.5));
        assert_eq!(parse_finite_number("0"), Some(0.0));
        assert_eq!(parse_finite_number(".5"), Some(0.5));
        assert_eq!(parse_finite_number("5."), Some(5.0));
        assert_eq!(parse_finite_number("-1e-1"), Some(-0.1));
        assert_eq!(parse_finite_number("0.5abc"), None);
        assert_eq!(parse_finite_number(""), None);
        assert_eq!(parse_finite_number("."), None);
        assert_eq!(parse_finite_number("1e"), None);
        assert_eq!(parse_finite_number("inf"), None);
        assert_eq!(parse_finite_number("1e999"), None);
    }
}
