//! Nunjucks (promptfoo) → minijinja (ai-evals) template translation.
//!
//! Most templates are the same text in both engines. What differs and is
//! handled here:
//! - `| dump` (JSON.stringify) becomes `| tojson` (noted: minijinja's `tojson`
//!   also escapes `<`, `>`, `&` and `'` as `\u003c` …, JSON.stringify does not);
//! - `x | load` (promptfoo's JSON.parse filter) on a plain variable becomes the
//!   variable `x__json`, which the converter fills with the parsed value in
//!   every test that sets `x` (minijinja has no JSON-parsing filter);
//! - `x.length` (a JavaScript property) becomes `(x | length)`;
//! - `{% for k, v in obj %}` (Nunjucks iterates an object's pairs) becomes
//!   `{% for k, v in obj | items %}`; a loop already over a filter (`|
//!   items`, `| dictsort`) is kept.
//!
//! Refused, with the reason: `env.*` (the process environment), JavaScript
//! method calls (`x.toUpperCase()`), JavaScript operators (`===`, `&&`, `!`),
//! filters minijinja lacks, and `include`/`import`/`extends`, which need
//! template files.

use std::collections::BTreeSet;

/// A translated template.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Translated {
    pub text: String,
    /// Variables used as `x | load`: each needs an `x__json` variable.
    pub load_vars: BTreeSet<String>,
    /// Approximations worth telling (not refusals).
    pub notes: Vec<String>,
    /// Whether `| dump` became `| tojson`, which escapes more: a
    /// difference in text, none inside JSON that is parsed again.
    pub tojson: bool,
}

/// What [`Translated::tojson`] changes, for a template that stays text.
pub const TOJSON_NOTE: &str =
    "`| dump` became `| tojson`, which also escapes <, >, & and ' (JSON.stringify does not)";

/// The suffix of the variable that holds `x | load` already parsed.
pub const LOAD_SUFFIX: &str = "__json";

/// minijinja's built-in filters (default features plus `json`), which is what
/// ai-evals' prompt environment has.
const MINIJINJA_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "zip",
];

const TAGS_OK: &[&str] = &[
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "endfor",
    "set",
    "endset",
    "raw",
    "endraw",
    "filter",
    "endfilter",
    "macro",
    "endmacro",
    "call",
    "endcall",
];

/// Whether the text has template syntax at all.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Translates a Nunjucks template, or says why it cannot be.
pub fn translate(src: &str) -> Result<Translated, String> {
    let mut out = Translated::default();
    let mut text = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(pos) = find_open(rest) {
        text.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if tail.starts_with("{#") {
            let end = tail.find("#}").ok_or("an unclosed {# comment")? + 2;
            text.push_str(&tail[..end]);
            rest = &tail[end..];
            continue;
        }
        let close = if tail.starts_with("{{") { "}}" } else { "%}" };
        let end = find_close(tail, close).ok_or_else(|| format!("an unclosed {}", &tail[..2]))?;
        let inner = &tail[2..end];
        let block = tail.starts_with("{%");
        let translated = translate_tag(inner, block, &mut out)?;
        text.push_str(&tail[..2]);
        text.push_str(&translated);
        text.push_str(close);
        rest = &tail[end + 2..];
        if block && first_word(inner) == "raw" {
            let endraw = find_endraw(rest).ok_or("an unclosed {% raw %}")?;
            text.push_str(&rest[..endraw]);
            rest = &rest[endraw..];
        }
    }
    text.push_str(rest);
    out.text = text;
    Ok(out)
}

fn find_open(s: &str) -> Option<usize> {
    ["{{", "{%", "{#"].iter().filter_map(|p| s.find(p)).min()
}

fn find_endraw(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = s[from..].find("{%") {
        let at = from + p;
        let inner_end = s[at..].find("%}")?;
        if first_word(&s[at + 2..at + inner_end]) == "endraw" {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

/// The offset of `close` in `s` (which starts with the opening pair), skipping
/// string literals.
fn find_close(s: &str, close: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 2;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if b == b'"' || b == b'\'' {
                    quote = Some(b);
                } else if s[i..].starts_with(close) {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

fn first_word(inner: &str) -> &str {
    let t = inner.trim_start_matches(['-', '+', '~']).trim_start();
    let end = t
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(t.len());
    &t[..end]
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Other(String),
    Space(String),
}

fn tokenize(s: &str) -> Vec<Tok> {
    let chars: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            let start = i;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            toks.push(Tok::Space(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == '"' || c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            toks.push(Tok::Other(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            toks.push(Tok::Other(chars[start..i].iter().collect()));
        } else {
            // Multi-character operators are kept together.
            let three: String = chars[i..].iter().take(3).collect();
            let two: String = chars[i..].iter().take(2).collect();
            if three == "===" || three == "!==" {
                toks.push(Tok::Other(three));
                i += 3;
            } else if ["==", "!=", "<=", ">=", "&&", "||", "//", "**"].contains(&two.as_str()) {
                toks.push(Tok::Other(two));
                i += 2;
            } else {
                toks.push(Tok::Other(c.to_string()));
                i += 1;
            }
        }
    }
    toks
}

fn is_ident(t: Option<&Tok>, name: &str) -> bool {
    matches!(t, Some(Tok::Ident(s)) if s == name)
}

fn is_other(t: Option<&Tok>, s: &str) -> bool {
    matches!(t, Some(Tok::Other(o)) if o == s)
}

fn text_of(t: &Tok) -> &str {
    match t {
        Tok::Ident(s) | Tok::Other(s) | Tok::Space(s) => s,
    }
}

/// A tag's tokens, and the positions in `all` of the ones that are not space.
struct Tokens {
    all: Vec<Tok>,
    sig: Vec<usize>,
}

impl Tokens {
    fn new(inner: &str) -> Tokens {
        let all = tokenize(inner);
        let sig = all
            .iter()
            .enumerate()
            .filter(|(_, t)| !matches!(t, Tok::Space(_)))
            .map(|(i, _)| i)
            .collect();
        Tokens { all, sig }
    }

    /// The `k`-th token that is not space.
    fn get(&self, k: usize) -> Option<&Tok> {
        self.sig.get(k).map(|&i| &self.all[i])
    }

    /// The token before the `k`-th (not space).
    fn before(&self, k: usize, back: usize) -> Option<&Tok> {
        k.checked_sub(back).and_then(|j| self.get(j))
    }
}

/// An edit: the non-space tokens `from..to` replaced by a text.
type Edit = (usize, usize, String);

fn translate_tag(inner: &str, block: bool, out: &mut Translated) -> Result<String, String> {
    let tokens = Tokens::new(inner);
    if block {
        check_block_tag(inner)?;
    }
    let mut edits = collect_edits(&tokens, out)?;
    let text = if edits.is_empty() {
        inner.to_string()
    } else {
        edits.sort_by_key(|x| x.0);
        rebuild(&tokens, &edits)
    };
    // `for a, b in x` iterates an object's pairs in Nunjucks.
    if block && first_word(inner) == "for" {
        let at = (0..tokens.sig.len()).find(|&k| is_ident(tokens.get(k), "for"));
        if at.is_some_and(|k| is_other(tokens.get(k + 2), ",")) {
            return Ok(over_items(&text, out));
        }
    }
    Ok(text)
}

/// A whitespace-control mark at either end of a tag (`{%-`, `+%}`).
fn is_trim_mark(tok: Option<&Tok>) -> bool {
    ["-", "+", "~"].iter().any(|m| is_other(tok, m))
}

/// Block tags minijinja lacks.
fn check_block_tag(inner: &str) -> Result<(), String> {
    let word = first_word(inner);
    if !TAGS_OK.contains(&word) {
        return Err(format!(
            "the {{% {word} %}} tag is not translated (minijinja in ai-evals has no template files to include)"
        ));
    }
    Ok(())
}

/// `for k, v in obj` → `for k, v in obj | items`: the iterable (up to an
/// `if` or `recursive`) gets `| items` unless it already ends in a filter.
fn over_items(tag: &str, out: &mut Translated) -> String {
    let t = Tokens::new(tag);
    let Some(start) = (0..t.sig.len()).find(|&k| is_ident(t.get(k), "in")) else {
        return tag.to_string();
    };
    let mut end = t.sig.len();
    while end > start + 1 && is_trim_mark(t.get(end - 1)) {
        end -= 1;
    }
    let end = (start + 1..end)
        .find(|&k| is_ident(t.get(k), "if") || is_ident(t.get(k), "recursive"))
        .unwrap_or(end);
    if end <= start + 1 || (start + 1..end).any(|k| is_other(t.get(k), "|")) {
        return tag.to_string();
    }
    let last = t.sig[end - 1];
    let mut text = String::new();
    for (i, tok) in t.all.iter().enumerate() {
        text.push_str(text_of(tok));
        if i == last {
            text.push_str(" | items");
        }
    }
    out.notes.push(
        "`{% for k, v in x %}` became `{% for k, v in x | items %}`: right for an object, an error in minijinja when x is a list of pairs".into(),
    );
    text
}

/// The edits a tag needs; the error says what cannot be translated.
fn collect_edits(t: &Tokens, out: &mut Translated) -> Result<Vec<Edit>, String> {
    let mut edits = Vec::new();
    let mut k = 0;
    while let Some(tok) = t.get(k) {
        k = match tok {
            Tok::Other(op) if ["===", "!==", "&&", "||"].contains(&op.as_str()) => {
                return Err(format!(
                    "the JavaScript operator {op} has no minijinja equivalent"
                ));
            }
            Tok::Other(op) if op == "!" => {
                return Err(
                    "the JavaScript operator ! has no minijinja equivalent (use `not`)".into(),
                );
            }
            Tok::Ident(name)
                if name == "env"
                    && !is_other(t.before(k, 1), ".")
                    && (is_other(t.get(k + 1), ".") || is_other(t.get(k + 1), "[")) =>
            {
                return Err(
                    "`env` (the process environment) is not available in ai-evals templates".into(),
                );
            }
            Tok::Ident(name) if name == "_conversation" && !is_other(t.before(k, 1), ".") => {
                out.notes.push(
                    "promptfoo's `_conversation` (the earlier turns of the thread, run in order) has no ai-evals counterpart: it renders empty, so every test is sent without the earlier turns".into(),
                );
                k + 1
            }
            Tok::Other(p) if p == "|" => filter_edit(t, k, out, &mut edits)?,
            Tok::Other(p) if p == "." => property_edit(t, k, out, &mut edits)?,
            _ => k + 1,
        };
    }
    Ok(edits)
}

/// The filter after `|` at `k`: `dump` and `load` are rewritten, minijinja's
/// own filters kept, others refused. Returns where to go on.
fn filter_edit(
    t: &Tokens,
    k: usize,
    out: &mut Translated,
    edits: &mut Vec<Edit>,
) -> Result<usize, String> {
    let Some(Tok::Ident(filter)) = t.get(k + 1) else {
        return Err("a filter name is missing after |".into());
    };
    match filter.as_str() {
        "dump" => {
            if is_other(t.get(k + 2), "(") {
                return Err("`dump` with arguments is not translated".into());
            }
            edits.push((k + 1, k + 2, "tojson".into()));
            out.tojson = true;
        }
        "load" => {
            // `name | load`, the name a plain variable (not an attribute).
            let before = t.before(k, 2);
            match t.before(k, 1) {
                Some(Tok::Ident(var))
                    if !is_other(before, ".")
                        && !is_other(before, "|")
                        && !is_ident(before, "in") =>
                {
                    out.load_vars.insert(var.clone());
                    edits.push((k - 1, k + 2, format!("{var}{LOAD_SUFFIX}")));
                }
                _ => {
                    return Err(
                        "`| load` (JSON.parse) is translated only on a plain variable".into(),
                    );
                }
            }
        }
        f if MINIJINJA_FILTERS.contains(&f) => {}
        f => return Err(format!("the filter `{f}` does not exist in minijinja")),
    }
    Ok(k + 2)
}

/// The property after `.` at `k`: `.length` becomes the `length` filter, a
/// method call is refused. Returns where to go on.
fn property_edit(
    t: &Tokens,
    k: usize,
    out: &mut Translated,
    edits: &mut Vec<Edit>,
) -> Result<usize, String> {
    let Some(Tok::Ident(prop)) = t.get(k + 1) else {
        return Ok(k + 1);
    };
    if is_other(t.get(k + 2), "(") {
        return Err(format!(
            "the JavaScript method call .{prop}() has no minijinja equivalent"
        ));
    }
    if prop != "length" {
        return Ok(k + 1);
    }
    // Walk back over an `a.b.c` chain.
    let mut s = k;
    while let Some(Tok::Ident(_)) = t.before(s, 1) {
        s -= 1;
        if is_other(t.before(s, 1), ".") {
            s -= 1;
        } else {
            break;
        }
    }
    if s == k {
        // `(expr).length`: left as attribute access, which is right when
        // expr is an object with a `length` key.
        out.notes.push(
            "`(…).length` kept as attribute access: right for an object's `length` key, an error in minijinja for a list or text"
                .into(),
        );
        return Ok(k + 2);
    }
    let chain: String = (s..k).map(|j| text_of(t.get(j).unwrap())).collect();
    edits.push((s, k + 2, format!("({chain} | length)")));
    out.notes.push(
        "`x.length` became `(x | length)`: right for a list or text, wrong if x is an object with a `length` key"
            .into(),
    );
    Ok(k + 2)
}

/// The tag's text with the edits made; tokens outside them (spaces
/// included) are kept verbatim. `edits` are sorted by position.
fn rebuild(t: &Tokens, edits: &[Edit]) -> String {
    let mut result = String::new();
    let mut skip_until: Option<usize> = None; // an index into `all`
    let mut e = 0;
    for (idx, tok) in t.all.iter().enumerate() {
        if let Some(u) = skip_until {
            if idx < u {
                continue;
            }
            skip_until = None;
        }
        if e < edits.len() && t.sig[edits[e].0] == idx {
            let (_, b, ref text) = edits[e];
            result.push_str(text);
            skip_until = Some(t.sig[b - 1] + 1);
            e += 1;
            continue;
        }
        result.push_str(text_of(tok));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> String {
        translate(s).unwrap().text
    }

    #[test]
    fn plain_templates_are_unchanged() {
        let s = "Hello {{ name | upper }}{% if x %}!{% endif %} {# c #}";
        assert_eq!(t(s), s);
        assert_eq!(
            t("{% raw %}{{ env.X }}{% endraw %}"),
            "{% raw %}{{ env.X }}{% endraw %}"
        );
    }

    #[test]
    fn dump_load_and_length() {
        let d = translate("{{ items | dump }}").unwrap();
        assert_eq!(d.text, "{{ items | tojson }}");
        assert!(d.tojson);
        let l = translate("- Tone: {{ (style_config | load).tone }}").unwrap();
        assert_eq!(l.text, "- Tone: {{ (style_config__json).tone }}");
        assert!(l.load_vars.contains("style_config"));
        assert_eq!(
            t("{{ a.b.length }} {{ xs.length }}"),
            "{{ (a.b | length) }} {{ (xs | length) }}"
        );
    }

    #[test]
    fn loops_over_pairs_go_over_items() {
        assert_eq!(
            t("{% for k, v in obj %}{{ k }}={{ v }}{% endfor %}"),
            "{% for k, v in obj | items %}{{ k }}={{ v }}{% endfor %}"
        );
        assert_eq!(
            t("{%- for role, text in turns.all if text -%}"),
            "{%- for role, text in turns.all | items if text -%}"
        );
        assert_eq!(
            t("{%- for k, v in obj -%}"),
            "{%- for k, v in obj | items -%}"
        );
        let kept =
            "{% for k, v in obj | items %}{% endfor %}{% for k, v in o | dictsort %}{% endfor %}";
        assert_eq!(t(kept), kept);
        assert_eq!(
            t("{% for x in xs %}{% endfor %}"),
            "{% for x in xs %}{% endfor %}"
        );
        let rendered = minijinja::Environment::new()
            .render_str(
                &t("{% for k, v in obj %}{{ k }}={{ v }};{% endfor %}"),
                minijinja::context! { obj => minijinja::context! { a => 1, b => 2 } },
            )
            .unwrap();
        assert_eq!(rendered, "a=1;b=2;");
    }

    #[test]
    fn the_conversation_built_in_is_noted() {
        let translated =
            translate("{% for c in _conversation %}{{ c.output }}{% endfor %}").unwrap();
        assert_eq!(
            translated.text,
            "{% for c in _conversation %}{{ c.output }}{% endfor %}"
        );
        assert!(
            translated.notes[0].contains("`_conversation`"),
            "{:?}",
            translated.notes
        );
    }

    #[test]
    fn refusals_say_why() {
        assert!(translate("{{ env.HOME }}").unwrap_err().contains("env"));
        assert!(
            translate("{{ x.toUpperCase() }}")
                .unwrap_err()
                .contains("toUpperCase")
        );
        assert!(
            translate("{% if a === b %}{% endif %}")
                .unwrap_err()
                .contains("===")
        );
        assert!(translate("{{ x | nl2br }}").unwrap_err().contains("nl2br"));

        assert!(translate("{% include 'a.j2' %}").is_err());
        assert!(translate("{{ (a.b | load).c }}").is_err());
        assert!(translate("{{ x ").is_err());
    }
}
