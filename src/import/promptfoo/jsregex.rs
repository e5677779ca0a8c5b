//! promptfoo's `regex` assertion runs `new RegExp(value)` (no flags) on the
//! output; ai-evals compiles the value with Rust's `regex` crate. The two
//! syntaxes mostly agree, but not in meaning: `\d`, `\w`, `\s` and `\b` are
//! ASCII (`\s` a fixed list) in JavaScript and Unicode in Rust; `.` excludes
//! `\r`, U+2028 and U+2029 as well as `\n` in JavaScript; unknown escapes such
//! as `\a` or `\z` are literal letters in JavaScript but a bell and an anchor
//! in Rust; `[` inside a class is literal in JavaScript and a nested class in
//! Rust. `translate` rewrites a JavaScript pattern into a Rust pattern that
//! matches the same strings, or says why it cannot (lookaround and
//! backreferences have no Rust equivalent).

/// JavaScript's `\s` (WhiteSpace and LineTerminator), as class items.
const JS_SPACE: &str = r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// Whether JavaScript counts `c` as white space (`\s`, `String.trim`):
/// WhiteSpace and LineTerminator, which is not Rust's `char::is_whitespace`
/// (U+FEFF is one, U+0085 is not).
pub fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// What in a JavaScript pattern has no Rust `regex` equivalent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Untranslatable {
    #[error("lookahead ((?= or (?!) has no Rust regex equivalent")]
    Lookahead,
    #[error("lookbehind ((?<= or (?<!) has no Rust regex equivalent")]
    Lookbehind,
    #[error("backreferences (\\1 …) have no Rust regex equivalent")]
    Backreference,
    #[error("named backreferences (\\k<…>) have no Rust regex equivalent")]
    NamedBackreference,
    #[error("unterminated character class")]
    UnterminatedClass,
    #[error("the pattern ends with a lone backslash")]
    LoneBackslash,
    /// A negated shorthand (`\S`, `\D`, `\W`) inside a class.
    #[error("\\{0} inside a character class is not translated; write the class out")]
    NegatedInClass(char),
    #[error("a lone surrogate escape cannot match UTF-8 text")]
    LoneSurrogate,
    /// A pattern with template parts, one of which is never closed.
    #[error("an unclosed {{{{")]
    UnclosedTemplate,
}

/// Translates a JavaScript pattern (no flags) into Rust `regex` syntax.
pub fn translate(js: &str) -> Result<String, Untranslatable> {
    let chars: Vec<char> = js.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let (text, used) = escape(&chars, i + 1, false)?;
                out.push_str(&text);
                i += 1 + used;
            }
            '.' => {
                out.push_str(r"[^\n\r\x{2028}\x{2029}]");
                i += 1;
            }
            '(' => {
                let rest: String = chars[i + 1..].iter().take(4).collect();
                if rest.starts_with("?=") || rest.starts_with("?!") {
                    return Err(Untranslatable::Lookahead);
                }
                if rest.starts_with("?<=") || rest.starts_with("?<!") {
                    return Err(Untranslatable::Lookbehind);
                }
                if rest.starts_with("?<") {
                    out.push_str("(?P<");
                    i += 3;
                } else {
                    out.push('(');
                    i += 1;
                }
            }
            '[' => {
                let (text, used) = class(&chars, i)?;
                out.push_str(&text);
                i += used;
            }
            '{' => {
                // A quantifier `{n}`, `{n,}` or `{n,m}` stays; any other brace is literal.
                match quantifier_len(&chars, i) {
                    Some(len) => {
                        out.extend(&chars[i..i + len]);
                        i += len;
                    }
                    None => {
                        out.push_str(r"\{");
                        i += 1;
                    }
                }
            }
            '}' => {
                out.push_str(r"\}");
                i += 1;
            }
            ']' => {
                out.push_str(r"\]");
                i += 1;
            }
            '#' | '&' | '~' | ' ' => {
                out.push(c);
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn quantifier_len(chars: &[char], start: usize) -> Option<usize> {
    let mut j = start + 1;
    let digits = |j: &mut usize| {
        let s = *j;
        while *j < chars.len() && chars[*j].is_ascii_digit() {
            *j += 1;
        }
        *j > s
    };
    if !digits(&mut j) {
        return None;
    }
    if j < chars.len() && chars[j] == ',' {
        j += 1;
        digits(&mut j);
    }
    if j < chars.len() && chars[j] == '}' {
        Some(j + 1 - start)
    } else {
        None
    }
}

/// A class `[...]` starting at `start`; returns the Rust text and chars used.
fn class(chars: &[char], start: usize) -> Result<(String, usize), Untranslatable> {
    let mut i = start + 1;
    let negated = i < chars.len() && chars[i] == '^';
    if negated {
        i += 1;
    }
    // JavaScript: the first `]` ends the class, so `[]` is empty and `[^]` is anything.
    if i < chars.len() && chars[i] == ']' {
        let text = if negated {
            r"[\x{0}-\x{10FFFF}]".to_string()
        } else {
            r"[^\x{0}-\x{10FFFF}]".to_string()
        };
        return Ok((text, i + 1 - start));
    }
    let mut items = String::new();
    let mut first = true;
    while i < chars.len() && chars[i] != ']' {
        let c = chars[i];
        match c {
            '\\' => {
                let (text, used) = escape(chars, i + 1, true)?;
                items.push_str(&text);
                i += 1 + used;
            }
            '-' => {
                // A range dash sits between two items; elsewhere it is literal.
                let at_end = i + 1 < chars.len() && chars[i + 1] == ']';
                if first || at_end {
                    items.push_str(r"\-");
                } else {
                    items.push('-');
                }
                i += 1;
            }
            '[' | '&' | '~' | '^' => {
                items.push('\\');
                items.push(c);
                i += 1;
            }
            _ => {
                items.push(c);
                i += 1;
            }
        }
        first = false;
    }
    if i >= chars.len() {
        return Err(Untranslatable::UnterminatedClass);
    }
    let text = format!("[{}{}]", if negated { "^" } else { "" }, items);
    Ok((text, i + 1 - start))
}

/// The escape after a backslash at `at`; returns the Rust text and chars used.
fn escape(chars: &[char], at: usize, in_class: bool) -> Result<(String, usize), Untranslatable> {
    let Some(&c) = chars.get(at) else {
        return Err(Untranslatable::LoneBackslash);
    };
    if let Some(text) = class_shorthand(c, in_class)? {
        return Ok((text, 1));
    }
    Ok(match c {
        'b' if in_class => (r"\x08".into(), 1),
        'b' => (r"(?-u:\b)".into(), 1),
        'B' => (r"(?-u:\B)".into(), 1),
        't' => (r"\t".into(), 1),
        'n' => (r"\n".into(), 1),
        'r' => (r"\r".into(), 1),
        'v' => (r"\x0B".into(), 1),
        'f' => (r"\x0C".into(), 1),
        '0' if !chars.get(at + 1).is_some_and(|c| c.is_ascii_digit()) => (r"\x00".into(), 1),
        '1'..='9' if !in_class => {
            return Err(Untranslatable::Backreference);
        }
        'k' if chars.get(at + 1) == Some(&'<') => {
            return Err(Untranslatable::NamedBackreference);
        }
        'x' => match hex(chars, at + 1, 2) {
            Some(v) => (code(v), 3),
            None => ("x".into(), 1),
        },
        'u' => unicode_escape(chars, at)?,
        'c' => match chars.get(at + 1) {
            Some(l) if l.is_ascii_alphabetic() => (code((*l as u32) % 32), 2),
            _ => (r"\\c".into(), 1),
        },
        c if c.is_ascii_alphanumeric() => {
            // Identity escape: a plain letter in JavaScript without the u flag.
            (c.to_string(), 1)
        }
        c => (literal(c), 1),
    })
}

/// `\d`, `\w`, `\s` and their negations, as JavaScript reads them (ASCII
/// digits and word characters, JavaScript's spaces); `None` for other escapes.
fn class_shorthand(c: char, in_class: bool) -> Result<Option<String>, Untranslatable> {
    let (items, negated) = match c {
        'd' => ("0-9", false),
        'w' => ("0-9A-Za-z_", false),
        's' => (JS_SPACE, false),
        'D' => ("0-9", true),
        'W' => ("0-9A-Za-z_", true),
        'S' => (JS_SPACE, true),
        _ => return Ok(None),
    };
    Ok(Some(match (in_class, negated) {
        (true, false) => items.to_string(),
        (true, true) => return Err(Untranslatable::NegatedInClass(c)),
        (false, false) => format!("[{items}]"),
        (false, true) => format!("[^{items}]"),
    }))
}

/// `\uXXXX`, a surrogate pair of them joined into one character.
fn unicode_escape(chars: &[char], at: usize) -> Result<(String, usize), Untranslatable> {
    Ok(match hex(chars, at + 1, 4) {
        Some(high @ 0xD800..=0xDBFF)
            if chars.get(at + 5) == Some(&'\\') && chars.get(at + 6) == Some(&'u') =>
        {
            match hex(chars, at + 7, 4) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    let v = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    (code(v), 11)
                }
                _ => return Err(Untranslatable::LoneSurrogate),
            }
        }
        Some(0xD800..=0xDFFF) => return Err(Untranslatable::LoneSurrogate),
        Some(v) => (code(v), 5),
        None => ("u".into(), 1),
    })
}

/// The `n` hex digits at `from` as a number.
fn hex(chars: &[char], from: usize, n: usize) -> Option<u32> {
    if from + n > chars.len() {
        return None;
    }
    let s: String = chars[from..from + n].iter().collect();
    if s.chars().all(|c| c.is_ascii_hexdigit()) {
        u32::from_str_radix(&s, 16).ok()
    } else {
        None
    }
}

/// A code point as a Rust regex escape.
fn code(v: u32) -> String {
    format!(r"\x{{{v:X}}}")
}

/// A character as a Rust regex literal.
fn literal(c: char) -> String {
    if c.is_ascii_punctuation() || c == ' ' {
        if c == ' ' {
            " ".into()
        } else {
            format!("\\{c}")
        }
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn rust(js: &str) -> Regex {
        Regex::new(&translate(js).unwrap()).unwrap()
    }

    #[test]
    fn ascii_classes_like_javascript() {
        let d = rust(r"^\d+$");
        assert!(d.is_match("123"));
        assert!(
            !d.is_match("١٢٣"),
            "Arabic-Indic digits are not \\d in JavaScript"
        );
        let w = rust(r"^\w+$");
        assert!(!w.is_match("été"), "é is not \\w in JavaScript");
        let b = rust(r"\bcat\b");
        assert!(b.is_match("a cat."));
        let s = rust(r"a\sb");
        assert!(s.is_match("a\u{FEFF}b"), "U+FEFF is \\s in JavaScript");
        assert!(!s.is_match("a\u{85}b"), "U+0085 is not \\s in JavaScript");
    }

    #[test]
    fn dot_excludes_all_line_terminators() {
        let r = rust("a.b");
        assert!(r.is_match("axb"));
        assert!(!r.is_match("a\rb"));
        assert!(!r.is_match("a\u{2028}b"));
    }

    #[test]
    fn identity_escapes_and_literal_braces() {
        assert!(
            rust(r"\a\z").is_match("az"),
            "\\a and \\z are letters in JavaScript"
        );
        assert!(rust(r"{foo}").is_match("{foo}"));
        assert!(rust(r"a{2}").is_match("aa"));
        assert!(rust(r"\/path\/").is_match("/path/"));
        assert!(rust(r"[[]").is_match("["));
        assert!(rust(r"[a-c&~]").is_match("&"));
        assert!(!rust(r"[]").is_match("x"), "[] matches nothing");
        assert!(rust(r"[^]").is_match("\n"), "[^] matches anything");
        assert!(rust(r"\u00e9").is_match("é"));
        assert!(rust(r"\uD83D\uDE00").is_match("😀"));
        assert!(rust(r"(?<year>\d{4})").is_match("2024"));
        assert!(rust(r"[\d\s-]+").is_match("12 3-4"));
    }

    #[test]
    fn untranslatable_constructs_say_why() {
        let message = |pattern| translate(pattern).unwrap_err().to_string();
        assert!(message(r"foo(?=bar)").contains("lookahead"));
        assert!(message(r"(?<!x)y").contains("lookbehind"));
        assert!(message(r"(a)\1").contains("backreference"));
        assert!(translate(r"[\S]").is_err());
    }
}
