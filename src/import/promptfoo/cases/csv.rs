//! CSV test files read as promptfoo reads them (`testCaseFromCsvRow`):
//! `__expected` columns are assertions, other `__` columns set test fields,
//! the rest are variables.

use serde_json::{Map, Value, json};

use super::super::assertions;
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
            if !value.trim().is_empty() {
                match assertions::from_csv_string(value.trim()) {
                    Ok(a) => self.asserts.push(a),
                    Err(e) => ctx.skip(place.child(line, key), "CSV assertion", &e),
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
            self.threshold = parse_float(value).filter(|t| *t != 0.0);
            if parse_float(value) == Some(0.0) {
                ctx.note(place.clone(), "CSV __threshold 0", "ignored, as promptfoo ignores it (a threshold of 0 is falsy there): the row fails on any failing assertion");
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
        let what = "CSV __config column";
        match (index, parse_float(value)) {
            (Some(i), Some(t)) => self.configs.push((i, t)),
            (None, _) => ctx.skip(
                place.clone(),
                what,
                "only __config:__expected[N]:threshold converts",
            ),
            (Some(_), None) => ctx.skip(
                place.clone(),
                what,
                "not a number: promptfoo stops loading the file with an error",
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
    fn parse_floats() {
        assert_eq!(parse_float("0.5"), Some(0.5));
        assert_eq!(parse_float("0.5abc"), Some(0.5));
        assert_eq!(parse_float(""), None);
        assert_eq!(parse_float("x"), None);
    }
}
