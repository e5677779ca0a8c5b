//! Escaping for text that came from a model or a dataset, before it reaches
//! a Markdown report: no raw HTML, no `@mention` pings, no Markdown syntax
//! that could break a table, a code fence or a `<details>` block, and no
//! forged comment marker (every `<` is escaped, so no `<!--` survives).

/// A zero-width space after `@` stops GitHub from pinging a user or team.
const NO_MENTION: &str = "@\u{200B}";

fn html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '@' => out.push_str(NO_MENTION),
            c => out.push(c),
        }
    }
}

/// Inline Markdown text: HTML-escaped, Markdown punctuation backslashed,
/// line breaks flattened to spaces. Safe in a paragraph, a list item, a
/// table cell or a link's target. An underscore between letters or digits
/// stays as it is: it cannot start emphasis there, and a name like
/// `support_bot` then reads the same inside a code span, where backslashes
/// are not escapes.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    let word = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphanumeric())
    };
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '_' if word(i.checked_sub(1)) && word(Some(i + 1)) => out.push('_'),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' | '(' | ')' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            c => html(&c.to_string(), &mut out),
        }
    }
    out
}

/// Text inside an HTML element on one line (a `<summary>`): HTML-escaped,
/// line breaks flattened.
pub fn html_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    html(&text.replace(['\r', '\n'], " "), &mut out);
    out
}

/// Text for a `<pre>` block (its lines kept): HTML-escaped, so it cannot
/// close the block or open another; cut to `max` characters.
pub fn pre(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 16);
    let cut: String = text.chars().take(max).collect();
    html(&cut, &mut out);
    if text.chars().count() > max {
        out.push_str(" …");
    }
    out
}

/// Text for an HTML page, appended to `out`: safe as an element's text
/// and inside a quoted attribute (`&`, `<`, `>`, `"` and `'` as
/// character references). Control characters, which HTML forbids or
/// which could hide text, show as their visible pictures (U+241B for
/// ESC); nothing else changes (a page pings nobody, so `@` stays).
pub fn page_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {
                out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}'));
            }
            '\u{7F}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9F}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// [`page_into`] into a new string.
pub fn page(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    page_into(&mut out, text);
    out
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_html_and_markdown_are_defused() {
        let nasty = "@org/team <script>alert(1)</script> </details> <!-- ai-evals:demo --> `code` | a | **b**";
        let safe = inline(nasty);
        assert!(!safe.contains("@org"), "{safe}");
        assert!(!safe.contains('<'), "{safe}");
        assert!(!safe.contains("<!--"));
        assert!(safe.contains("\\`code\\`"));
        assert!(safe.contains("\\| a \\|"));
        assert!(safe.contains("\\*\\*b\\*\\*"));
        assert!(!inline("a\nb").contains('\n'));
        assert_eq!(
            inline("support_bot _x_ a__b"),
            "support_bot \\_x\\_ a\\_\\_b"
        );
    }

    #[test]
    fn page_text_opens_no_element_and_shows_control_characters() {
        let safe = page("<script>x</script> \"a\" 'b' &amp; @org\u{1b}[31m\u{0}\u{85}\u{2028}\n");
        assert_eq!(
            safe,
            "&lt;script&gt;x&lt;/script&gt; &quot;a&quot; &#39;b&#39; &amp;amp; @org\u{241B}[31m\u{2400}\u{FFFD}\u{2028}\n"
        );
    }

    #[test]
    fn pre_keeps_lines_and_closes_nothing() {
        let safe = pre("line 1\n</pre></details>\n```\n@here", 1000);
        assert_eq!(
            safe,
            "line 1\n&lt;/pre&gt;&lt;/details&gt;\n```\n@\u{200B}here"
        );
        assert_eq!(pre("abcdef", 3), "abc …");
    }
}
