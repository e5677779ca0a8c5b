//! promptfoo prompts → `[prompts]`.
//!
//! Forms: an inline string; a list of strings and `{id, label, raw}`
//! objects; the legacy `{path: label}` map; `{label, messages}` objects; files
//! (`file://x.txt`, where lines of `---` separate prompts and each is trimmed;
//! `.md` and `.j2` whole; `.json`/`.yaml` chat message arrays; `.jsonl`, one
//! message array a line) and globs of files. A prompt whose text is a JSON
//! array of `{role, content}` messages is a chat prompt, as promptfoo's
//! providers parse it. Script prompts (`.js`, `.py`, `exec:` …) are skipped.

use serde_json::{Value, json};

use super::yaml::{Kind, Node};
use super::{Ctx, Place};
use crate::config::{ChatMessage, PromptSpec, Role};

pub fn convert_all(ctx: &mut Ctx, node: &Node) {
    let base = Place::config(ctx, node.line, "prompts");
    match &node.kind {
        Kind::Str(raw) => one(ctx, raw, None, &base),
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let place = base.child(item.line, &format!("[{i}]"));
                match &item.kind {
                    Kind::Str(raw) => one(ctx, raw, None, &place),
                    Kind::Map(_) => object(ctx, item, &place),
                    _ => ctx.skip(place, "prompt", "neither a text nor an object"),
                }
            }
        }
        Kind::Map(entries) => {
            // Legacy: { "prompts.txt": "label" }.
            for (raw, label) in entries {
                let place = base.child(label.line, raw);
                one(ctx, raw, label.as_str(), &place);
            }
        }
        _ => ctx.skip(base, "prompts", "neither a text, a list nor a map"),
    }
}

fn object(ctx: &mut Ctx, item: &Node, place: &Place) {
    let label = item.get("label").and_then(Node::as_str);
    for (k, _) in item.entries().unwrap_or(&[]) {
        match k.as_str() {
            "id" | "label" | "raw" | "messages" => {}
            "config" => ctx.skip(
                place.clone(),
                "prompt config",
                "prompt-level provider settings have no ai-evals counterpart",
            ),
            other => ctx.skip(
                place.clone(),
                &format!("prompt key `{other}`"),
                "no ai-evals counterpart",
            ),
        }
    }
    if let Some(messages) = item.get("messages") {
        let Some(list) = messages.items() else {
            ctx.skip(place.clone(), "prompt messages", "not a list");
            return;
        };
        let mut out = Vec::new();
        for (j, m) in list.iter().enumerate() {
            let p = place.child(m.line, &format!("messages[{j}]"));
            let role = m.get("role").and_then(Node::as_str);
            let content = match m.get("content").and_then(Node::as_str) {
                Some(c) if c.starts_with("file://") => {
                    match std::fs::read_to_string(ctx.resolve(&c["file://".len()..])) {
                        Ok(text) if !is_script(c) => text,
                        _ => {
                            ctx.skip(
                                p,
                                "chat prompt",
                                &format!("message content {c} is a script or cannot be read"),
                            );
                            return;
                        }
                    }
                }
                Some(c) => c.to_string(),
                None => {
                    ctx.skip(p, "chat prompt", "a message without text content");
                    return;
                }
            };
            let Some(role) = role else {
                ctx.skip(p, "chat prompt", "a message without a role");
                return;
            };
            out.push(json!({ "role": role, "content": content }));
        }
        add_messages(ctx, out, label, place);
        return;
    }
    let raw = item
        .get("raw")
        .and_then(Node::as_str)
        .or_else(|| item.get("id").and_then(Node::as_str));
    match raw {
        Some(raw) => one(ctx, raw, label, place),
        None => ctx.skip(place.clone(), "prompt", "an object without `raw` or `id`"),
    }
}

fn is_script(raw: &str) -> bool {
    let path = raw.trim_start_matches("file://");
    let path = path.split(':').next().unwrap_or(path).to_ascii_lowercase();
    [
        ".js", ".cjs", ".mjs", ".ts", ".cts", ".mts", ".py", ".rb", ".sh", ".bash", ".ps1", ".bat",
        ".cmd", ".pl", ".exe",
    ]
    .iter()
    .any(|e| path.ends_with(e))
}

/// promptfoo's `maybeFilePath`.
fn maybe_file_path(s: &str) -> bool {
    if s.contains('\n')
        || s.contains("portkey://")
        || s.contains("langfuse://")
        || s.contains("helicone://")
    {
        return false;
    }
    let exts = [
        ".cjs", ".cts", ".js", ".json", ".jsonl", ".mjs", ".mts", ".py", ".rb", ".ts", ".txt",
        ".yml", ".yaml", ".md", ".j2", ".csv",
    ];
    let tokens: Vec<&str> = s.split(':').collect();
    let last = tokens.last().copied().unwrap_or("");
    let second = if tokens.len() > 1 {
        tokens[tokens.len() - 2]
    } else {
        ""
    };
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    s.starts_with("file://")
        || exts
            .iter()
            .any(|e| last.ends_with(e) || second.ends_with(e))
        || (n >= 3 && chars[n - 3] == '.')
        || (n >= 4 && chars[n - 4] == '.')
        || s.contains('*')
        || s.contains('/')
        || s.contains('\\')
}

fn one(ctx: &mut Ctx, raw: &str, label: Option<&str>, place: &Place) {
    if raw.starts_with("exec:")
        || raw.starts_with("portkey://")
        || raw.starts_with("langfuse://")
        || raw.starts_with("helicone://")
    {
        ctx.skip(
            place.clone(),
            &format!("prompt {raw:?}"),
            "executable and hosted prompts have no ai-evals counterpart",
        );
        return;
    }
    if maybe_file_path(raw) {
        let rel = raw.strip_prefix("file://").unwrap_or(raw);
        if is_script(raw) {
            ctx.skip(
                place.clone(),
                &format!("prompt {raw:?}"),
                "a prompt built by a function; ai-evals prompts are templates",
            );
            return;
        }
        let pattern = ctx.resolve(rel);
        let pattern_str = pattern.to_string_lossy().to_string();
        let files: Vec<std::path::PathBuf> = if rel.contains(['*', '?', '[']) {
            glob::glob(&pattern_str)
                .map(|g| g.filter_map(Result::ok).filter(|p| p.is_file()).collect())
                .unwrap_or_default()
        } else if pattern.is_file() {
            vec![pattern.clone()]
        } else {
            Vec::new()
        };
        if files.is_empty() {
            if raw.starts_with("file://") {
                ctx.skip(
                    place.clone(),
                    &format!("prompt {raw:?}"),
                    "the file does not exist",
                );
                return;
            }
            ctx.note(
                place.clone(),
                &format!("prompt {raw:?}"),
                "looks like a path to promptfoo, but no such file exists; converted as prompt text",
            );
        } else {
            for file in files {
                let shown = file
                    .strip_prefix(&ctx.dir)
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .to_string();
                from_file(ctx, &file, &shown, label, place);
            }
            return;
        }
    }
    text_or_chat(ctx, raw, label, place);
}

fn from_file(
    ctx: &mut Ctx,
    file: &std::path::Path,
    shown: &str,
    label: Option<&str>,
    place: &Place,
) {
    let what = format!("prompt file {shown}");
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            ctx.skip(place.clone(), &what, &format!("cannot be read: {e}"));
            return;
        }
    };
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("prompt")
        .to_string();
    let name = label.unwrap_or(&stem);
    let file_place = Place::new(shown, None, "");
    match ext.as_str() {
        "txt" => txt_prompts(ctx, &text, shown, name),
        "md" | "j2" => add_text(ctx, &text, Some(name), &file_place),
        "json" | "yaml" | "yml" => chat_file(ctx, &text, &ext, name, &file_place, &what),
        "jsonl" => jsonl_prompts(ctx, &text, shown, name, &what),
        "csv" => ctx.skip(file_place, &what, "CSV prompt files are not converted"),
        _ => ctx.skip(
            file_place,
            &what,
            "an extension promptfoo reads with code (or not at all)",
        ),
    }
}

/// A `.txt` file: prompts separated by lines of `---`, each trimmed.
fn txt_prompts(ctx: &mut Ctx, text: &str, shown: &str, name: &str) {
    let mut parts = Vec::new();
    let mut buf: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim() == "---" {
            parts.push(buf.join("\n").trim().to_string());
            buf.clear();
        } else {
            buf.push(line);
        }
    }
    parts.push(buf.join("\n").trim().to_string());
    let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    let many = parts.len() > 1;
    for (i, p) in parts.iter().enumerate() {
        let name_hint = if many {
            format!("{name}-{}", i + 1)
        } else {
            name.to_string()
        };
        let p_place = Place::new(shown, None, format!("prompt {}", i + 1));
        add_text(ctx, p, Some(&name_hint), &p_place);
    }
}

/// A `.json` or `.yaml` file: one chat prompt (a JSON file that does not
/// parse is, as in promptfoo, the prompt's text).
fn chat_file(ctx: &mut Ctx, text: &str, ext: &str, name: &str, place: &Place, what: &str) {
    let value = if ext == "json" {
        serde_json::from_str::<Value>(text).map_err(|e| e.to_string())
    } else {
        super::yaml::parse(text).map(|n| n.to_json())
    };
    match value {
        Ok(v) => match messages_of(&v) {
            Some(messages) => add_messages(ctx, messages, Some(name), place),
            None => ctx.skip(
                place.clone(),
                what,
                "not an array of {role, content} messages with text content",
            ),
        },
        Err(_) if ext == "json" => {
            // A template that is JSON once rendered (a loop over a
            // history, say): rendered first, then sent as its messages.
            ctx.json_prompts |= super::template::is_template(text);
            let Some(t) = ctx.json_template(text, place, "prompt") else {
                return;
            };
            let name = unique_name(ctx, Some(name));
            ctx.prompts.push((name, PromptSpec::Inline(t)));
        }
        Err(e) => ctx.skip(place.clone(), what, &format!("does not parse: {e}")),
    }
}

/// A `.jsonl` file: one chat prompt a line.
fn jsonl_prompts(ctx: &mut Ctx, text: &str, shown: &str, name: &str, what: &str) {
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let p = Place::new(shown, Some(i + 1), "");
        match serde_json::from_str::<Value>(line)
            .ok()
            .as_ref()
            .and_then(messages_of)
        {
            Some(messages) => add_messages(ctx, messages, Some(&format!("{name}-{}", i + 1)), &p),
            None => ctx.skip(
                p,
                what,
                "the line is not an array of {role, content} messages",
            ),
        }
    }
}

/// `[{role, content: text}, …]` → the messages.
fn messages_of(v: &Value) -> Option<Vec<Value>> {
    let items = v.as_array()?;
    if items.is_empty() {
        return None;
    }
    items
        .iter()
        .map(|m| {
            let role = m.get("role")?.as_str()?;
            let content = m.get("content")?.as_str()?;
            Some(json!({ "role": role, "content": content }))
        })
        .collect()
}

fn text_or_chat(ctx: &mut Ctx, raw: &str, label: Option<&str>, place: &Place) {
    if let Ok(v) = serde_json::from_str::<Value>(raw) {
        if let Some(messages) = messages_of(&v) {
            add_messages(ctx, messages, label, place);
            return;
        }
        if v.is_array() || v.is_object() {
            ctx.skip(
                place.clone(),
                "prompt",
                "JSON that is not an array of {role, content} text messages",
            );
            return;
        }
    }
    if raw.trim_start().starts_with("- role:")
        && let Some(messages) = super::yaml::parse(raw)
            .ok()
            .map(|n| n.to_json())
            .as_ref()
            .and_then(messages_of)
    {
        add_messages(ctx, messages, label, place);
        return;
    }
    add_text(ctx, raw, label, place);
}

fn unique_name(ctx: &Ctx, hint: Option<&str>) -> String {
    let base = match hint {
        Some(h) => super::providers::sanitize(h),
        None => format!("prompt-{}", ctx.prompts.len() + 1),
    };
    let mut name = base.clone();
    let mut n = 1;
    while ctx.prompts.iter().any(|(p, _)| *p == name) {
        n += 1;
        name = format!("{base}-{n}");
    }
    name
}

fn add_text(ctx: &mut Ctx, text: &str, label: Option<&str>, place: &Place) {
    let what = "prompt";
    let Some(t) = ctx.template(text, place, what) else {
        return;
    };
    let name = unique_name(ctx, label);
    ctx.prompts.push((name, PromptSpec::Inline(t)));
}

fn add_messages(ctx: &mut Ctx, messages: Vec<Value>, label: Option<&str>, place: &Place) {
    let mut out = Vec::new();
    let mut templated = false;
    for m in messages {
        let role = match m["role"].as_str().unwrap_or("") {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                ctx.skip(
                    place.clone(),
                    "chat prompt",
                    &format!("role `{other}` has no ai-evals counterpart"),
                );
                return;
            }
        };
        let content = m["content"].as_str().unwrap_or("");
        templated |= super::template::is_template(content);
        let Some(content) = ctx.template(content, place, "chat prompt") else {
            return;
        };
        out.push(ChatMessage { role, content });
    }
    ctx.json_prompts |= templated;
    let name = unique_name(ctx, label);
    ctx.prompts
        .push((name, PromptSpec::Messages { messages: out }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_path_heuristic() {
        assert!(maybe_file_path("file://a.txt"));
        assert!(maybe_file_path("prompts.txt"));
        assert!(maybe_file_path("dir/*.j2"));
        assert!(!maybe_file_path("Translate to {{language}}: {{input}}"));
        assert!(!maybe_file_path("line one\nline/two"));
    }
}
