//! YAML loading with line numbers, shaped like the JavaScript values promptfoo
//! sees after `js-yaml` has loaded a file.
//!
//! The parser is `saphyr` (YAML 1.2, the maintained successor of yaml-rust and
//! yaml-rust2): its `MarkedYamlOwned` nodes carry the line each node starts on,
//! which is how skipped items are placed. What js-yaml does and saphyr leaves to
//! the caller is done here: merge keys (`<<: *anchor`, a YAML 1.1 feature that
//! js-yaml's default schema keeps), non-string keys turned into strings (a
//! JavaScript object's keys are strings), and tags unwrapped.

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, ScanError, YamlDataOwned};
use serde_json::{Map, Number, Value};

/// A loaded YAML value with the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order (merge keys resolved).
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match &self.kind {
            Kind::Int(i) => Some(*i as f64),
            Kind::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn entries(&self) -> Option<&[(String, Node)]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// A node built from a JSON value (for data read from JSON, CSV or JSONL),
    /// every node on `line`.
    pub fn from_json(value: &Value, line: usize) -> Node {
        let kind = match value {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Kind::Int(i),
                None => Kind::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Kind::Str(s.clone()),
            Value::Array(items) => {
                Kind::Seq(items.iter().map(|v| Node::from_json(v, line)).collect())
            }
            Value::Object(map) => Kind::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v, line)))
                    .collect(),
            ),
        };
        Node { line, kind }
    }

    /// The node as JSON (what `JSON.stringify` of the js-yaml value would hold).
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::Number((*i).into()),
            Kind::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.clone(), v.to_json());
                }
                Value::Object(map)
            }
        }
    }
}

/// Why a text is not YAML js-yaml would load, with the line.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error(transparent)]
    Syntax(#[from] ScanError),
    #[error("line {0}: a merge key (<<) needs a mapping")]
    MergeNotMapping(usize),
    #[error("line {0}: a merge key (<<) needs mappings")]
    MergeNotMappings(usize),
    #[error("line {0}: unresolved alias")]
    Alias(usize),
    #[error("line {0}: invalid value")]
    BadValue(usize),
    #[error("line {0}: a mapping key that is not a scalar")]
    Key(usize),
}

/// Parses the first YAML document of `text`. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let docs = MarkedYamlOwned::load_from_str(text)?;
    match docs.into_iter().next() {
        Some(doc) => convert(&doc),
        None => Ok(Node {
            line: 1,
            kind: Kind::Null,
        }),
    }
}

fn convert(node: &MarkedYamlOwned) -> Result<Node, YamlError> {
    let line = node.span.start.line().max(1);
    let kind = match &node.data {
        YamlDataOwned::Value(scalar) => scalar_kind(scalar),
        YamlDataOwned::Representation(text, _, _) => Kind::Str(text.clone()),
        YamlDataOwned::Sequence(items) => {
            Kind::Seq(items.iter().map(convert).collect::<Result<_, _>>()?)
        }
        YamlDataOwned::Mapping(map) => {
            let mut own: Vec<(String, Node)> = Vec::new();
            let mut merged: Vec<(String, Node)> = Vec::new();
            for (k, v) in map.iter() {
                let key = key_text(k)?;
                let value = convert(v)?;
                if key == "<<" {
                    // Merge keys: a mapping, or a list of mappings (earlier wins).
                    let sources: Vec<Node> = match value.kind {
                        Kind::Map(_) => vec![value],
                        Kind::Seq(items) => items,
                        _ => return Err(YamlError::MergeNotMapping(line)),
                    };
                    for source in sources {
                        let Kind::Map(entries) = source.kind else {
                            return Err(YamlError::MergeNotMappings(line));
                        };
                        for (mk, mv) in entries {
                            if !merged.iter().any(|(k, _)| *k == mk) {
                                merged.push((mk, mv));
                            }
                        }
                    }
                } else {
                    own.push((key, value));
                }
            }
            for (k, v) in merged {
                if !own.iter().any(|(ok, _)| *ok == k) {
                    own.push((k, v));
                }
            }
            Kind::Map(own)
        }
        YamlDataOwned::Tagged(_, inner) => return convert(inner),
        YamlDataOwned::Alias(_) => return Err(YamlError::Alias(line)),
        YamlDataOwned::BadValue => return Err(YamlError::BadValue(line)),
    };
    Ok(Node { line, kind })
}

fn scalar_kind(scalar: &ScalarOwned) -> Kind {
    match scalar {
        ScalarOwned::Null => Kind::Null,
        ScalarOwned::Boolean(b) => Kind::Bool(*b),
        ScalarOwned::Integer(i) => Kind::Int(*i),
        ScalarOwned::FloatingPoint(f) => Kind::Float(f.into_inner()),
        ScalarOwned::String(s) => Kind::Str(s.clone()),
    }
}

/// A mapping key as JavaScript would see it (`String(key)`).
fn key_text(key: &MarkedYamlOwned) -> Result<String, YamlError> {
    Ok(match &key.data {
        YamlDataOwned::Value(scalar) => match scalar {
            ScalarOwned::Null => "null".into(),
            ScalarOwned::Boolean(b) => b.to_string(),
            ScalarOwned::Integer(i) => i.to_string(),
            ScalarOwned::FloatingPoint(f) => js_number(f.into_inner()),
            ScalarOwned::String(s) => s.clone(),
        },
        YamlDataOwned::Representation(text, _, _) => text.clone(),
        YamlDataOwned::Tagged(_, inner) => return key_text(inner),
        _ => return Err(YamlError::Key(key.span.start.line())),
    })
}

/// `String(n)` in JavaScript for a finite number: integers without `.0`.
pub fn js_number(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if f == 0.0 {
        // -0 too, as String(-0) is "0".
        "0".into()
    } else {
        // Whole numbers print without `.0` and without an exponent, in the
        // shortest digits that read back as `f`, as JavaScript prints them
        // below 1e21.
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_types() {
        let n = parse("a: 1\nb:\n  - x\n  - 2.5\nc: true\nd: ~\ne: yes\n").unwrap();
        assert_eq!(n.get("a").unwrap().kind, Kind::Int(1));
        let b = n.get("b").unwrap();
        assert_eq!(b.items().unwrap()[0].line, 3);
        assert_eq!(b.items().unwrap()[1].kind, Kind::Float(2.5));
        assert_eq!(n.get("c").unwrap().kind, Kind::Bool(true));
        assert!(n.get("d").unwrap().is_null());
        assert_eq!(
            n.get("e").unwrap().as_str(),
            Some("yes"),
            "YAML 1.2: yes is a string"
        );
    }

    #[test]
    fn anchors_and_merge_keys() {
        let n = parse("base: &b\n  x: 1\n  y: 2\nuse:\n  <<: *b\n  y: 3\n").unwrap();
        let u = n.get("use").unwrap();
        assert_eq!(u.get("x").unwrap().kind, Kind::Int(1));
        assert_eq!(u.get("y").unwrap().kind, Kind::Int(3), "explicit keys win");
    }

    #[test]
    fn non_string_keys_become_strings() {
        let n = parse("1: a\ntrue: b\n").unwrap();
        assert_eq!(n.get("1").unwrap().as_str(), Some("a"));
        assert_eq!(n.get("true").unwrap().as_str(), Some("b"));
    }

    #[test]
    fn errors_are_reported() {
        assert!(parse("a: [1, 2").is_err());
        assert!(
            parse("a: 1\na: 2\n").is_err(),
            "duplicate keys are errors, as in js-yaml"
        );
    }

    #[test]
    fn js_numbers() {
        assert_eq!(js_number(5.0), "5");
        assert_eq!(js_number(0.75), "0.75");
        assert_eq!(js_number(-0.0), "0");
        assert_eq!(js_number(-3.0), "-3");
    }

    #[test]
    fn js_numbers_past_i64() {
        // An `as i64` cast saturated these to 9223372036854775807.
        assert_eq!(js_number(1e19), "10000000000000000000");
        assert_eq!(js_number(-1e19), "-10000000000000000000");
        // JavaScript's digits, not the exact binary value (4611686018427387904).
        assert_eq!(js_number(2f64.powi(62)), "4611686018427388000");
    }
}
