//! A word-level diff of two texts as HTML: words only the baseline's text
//! has in `<del>`, words only this run's has in `<ins>`, the rest as it
//! is, every piece escaped.
//!
//! Computed here, not by the page's script: once per case when the page is
//! rendered, tested without a browser, and the page carries no diff code.

use std::time::Duration;

use similar::{ChangeTag, TextDiff};

use crate::report::escape;

/// A pair of texts the diff cannot settle in this time gets a coarser (but
/// still correct) diff, so one pathological answer cannot stall the page.
const TIMEOUT: Duration = Duration::from_millis(250);

/// The diff as HTML, and how many words each side changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub html: String,
    /// Words only the baseline's text has.
    pub removed: usize,
    /// Words only this run's text has.
    pub inserted: usize,
}

/// The word diff from `before` (the baseline's) to `after` (this run's).
pub fn words(before: &str, after: &str) -> Diff {
    let diff = TextDiff::configure()
        .timeout(TIMEOUT)
        .diff_words(before, after);
    let mut out = Diff::default();
    let mut open: Option<ChangeTag> = None;
    for change in diff.iter_all_changes() {
        let tag = change.tag();
        if open != Some(tag) {
            close(&mut out.html, open);
            match tag {
                ChangeTag::Delete => out.html.push_str("<del>"),
                ChangeTag::Insert => out.html.push_str("<ins>"),
                ChangeTag::Equal => {}
            }
            open = Some(tag);
        }
        let word = change.value();
        if !word.trim().is_empty() {
            match tag {
                ChangeTag::Delete => out.removed += 1,
                ChangeTag::Insert => out.inserted += 1,
                ChangeTag::Equal => {}
            }
        }
        escape::page_into(&mut out.html, word);
    }
    close(&mut out.html, open);
    out
}

fn close(html: &mut String, open: Option<ChangeTag>) {
    match open {
        Some(ChangeTag::Delete) => html.push_str("</del>"),
        Some(ChangeTag::Insert) => html.push_str("</ins>"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_words_are_marked_and_the_rest_kept() {
        let diff = words("The answer is 4.", "The answer is <b>5</b>.");
        assert_eq!(
            diff.html,
            "The answer is <del>4.</del><ins>&lt;b&gt;5&lt;/b&gt;.</ins>"
        );
        assert_eq!((diff.removed, diff.inserted), (1, 1));
    }

    #[test]
    fn equal_texts_have_no_marks_and_empty_sides_are_all_one_change() {
        assert_eq!(words("same  text\n", "same  text\n").html, "same  text\n");
        let added = words("", "new words");
        assert_eq!(added.html, "<ins>new words</ins>");
        assert_eq!((added.removed, added.inserted), (0, 2));
        assert_eq!(words("old", "").html, "<del>old</del>");
    }

    #[test]
    fn hostile_words_stay_text() {
        let diff = words(
            "ok </del><script>alert(1)</script>",
            "ok <img src=x onerror=alert(1)>",
        );
        assert!(!diff.html.contains("<script"), "{}", diff.html);
        assert!(!diff.html.contains("<img"), "{}", diff.html);
        assert_eq!(
            diff.html.matches("<del>").count(),
            diff.html.matches("</del>").count()
        );
    }
}
