//! What promptfoo does to a test's variables before rendering, done once
//! here: `file://` values loaded, array values expanded into one test per
//! combination, `{{ name }}` inside a value resolved.

use serde_json::{Map, Value};

use super::super::Ctx;
use super::super::yaml::{self, Kind, Node, YamlError, js_number};

/// Why a test's variables cannot be loaded; the test is skipped.
#[derive(Debug, thiserror::Error)]
pub(super) enum VarsError {
    #[error("bad glob {rel}: {source}")]
    BadGlob {
        rel: String,
        source: glob::PatternError,
    },
    /// A `file://` value (quoted whole) that matches no file.
    #[error("no file matches {0}")]
    NoMatch(String),
    #[error("var file {0} is a script")]
    Script(String),
    #[error("var file {0} is a PDF, image or video, which promptfoo converts to text or base64")]
    Media(String),
    #[error("cannot read var file {rel}: {source}")]
    ReadVarFile { rel: String, source: std::io::Error },
    #[error("var file {rel}: {source}")]
    VarFileYaml { rel: String, source: YamlError },
    /// A `vars: file://…` pattern that is no glob.
    #[error(transparent)]
    Glob(#[from] glob::PatternError),
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Yaml(#[from] YamlError),
}

/// promptfoo's `generateVarCombinations`.
pub(super) fn combinations(
    ctx: &mut Ctx,
    vars: &[(String, Node)],
) -> Result<Vec<Vec<(String, Value)>>, VarsError> {
    let mut combos: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for (k, v) in vars {
        let values: Vec<Value> = match &v.kind {
            Kind::Str(s) if s.starts_with("file://") => {
                let rel = &s["file://".len()..];
                let pattern = ctx.resolve(rel).to_string_lossy().to_string();
                let found: Vec<String> = glob::glob(&pattern)
                    .map_err(|source| VarsError::BadGlob {
                        rel: rel.to_string(),
                        source,
                    })?
                    .filter_map(Result::ok)
                    .map(|p| {
                        p.strip_prefix(&ctx.dir)
                            .unwrap_or(&p)
                            .to_string_lossy()
                            .to_string()
                    })
                    .collect();
                if found.is_empty() {
                    return Err(VarsError::NoMatch(s.clone()));
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
pub(super) fn load_var_file(ctx: &mut Ctx, rel: &str) -> Result<String, VarsError> {
    let lower = rel.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or("");
    if ["js", "cjs", "mjs", "ts", "py"].contains(&ext) {
        return Err(VarsError::Script(rel.to_string()));
    }
    if [
        "pdf", "jpg", "jpeg", "png", "gif", "bmp", "webp", "svg", "mp4", "webm", "ogg", "mov",
        "avi", "wmv", "mkv", "m4v",
    ]
    .contains(&ext)
    {
        return Err(VarsError::Media(rel.to_string()));
    }
    let path = ctx.resolve(rel);
    let text = std::fs::read_to_string(&path).map_err(|source| VarsError::ReadVarFile {
        rel: rel.to_string(),
        source,
    })?;
    if ext == "yaml" || ext == "yml" {
        let node = yaml::parse(&text).map_err(|source| VarsError::VarFileYaml {
            rel: rel.to_string(),
            source,
        })?;
        return Ok(serde_json::to_string(&node.to_json()).unwrap());
    }
    Ok(text.trim().to_string())
}

/// YAML files of vars (`vars: file://vars.yaml`), merged in order.
pub(super) fn load_vars_files(ctx: &mut Ctx, path: &str) -> Result<Vec<(String, Node)>, VarsError> {
    let rel = path.strip_prefix("file://").unwrap_or(path);
    let pattern = ctx.resolve(rel).to_string_lossy().to_string();
    let mut out: Vec<(String, Node)> = Vec::new();
    for p in glob::glob(&pattern)?.filter_map(Result::ok) {
        let text = std::fs::read_to_string(&p).map_err(|source| VarsError::Read {
            path: p.clone(),
            source,
        })?;
        let node = yaml::parse(&text)?;
        for (k, v) in node.entries().unwrap_or(&[]) {
            out.retain(|(x, _)| x != k);
            out.push((k.clone(), v.clone()));
        }
    }
    Ok(out)
}

/// promptfoo's `resolveVariables`: `{{ name }}` in a string var is replaced by
/// the var's value, the first occurrence per var per round, up to 5 rounds.
pub(super) fn resolve_variables(vars: &mut Map<String, Value>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
