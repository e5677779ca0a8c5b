//! The page's cases: one table row per case of either run, and for each
//! case shown in full an article with its prompt, the baseline's and this
//! run's answers side by side, their word diff and every assertion's
//! result.
//!
//! Written here rather than by the template: a suite can have 100,000
//! rows, which a template loop renders too slowly for a CI step. Every
//! string from a model, a dataset or a history file goes through
//! [`escape::page_into`]; element ids are the row's position, never a
//! case id.

use std::fmt::Write;

use crate::compare::verdict::{Cause, Partners};
use crate::report::escape;
use crate::store::{Answer, AssertionResult, CaseOutcome, Cut};

use super::diff;

/// What a case got in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// The call (or the scoring) failed.
    Error,
    /// The run does not have the case.
    Absent,
}

impl Status {
    fn of(case: Option<&CaseOutcome>) -> Status {
        match case {
            None => Status::Absent,
            Some(c) if c.passed => Status::Pass,
            Some(c) if c.errored => Status::Error,
            Some(_) => Status::Fail,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Absent => "–",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail | Status::Error => "fail",
            Status::Absent => "none",
        }
    }
}

/// Why a case differs from its baseline partner, or that it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Its outcome or score changed, for this cause.
    Changed(Cause),
    Unchanged,
    /// Only this run has it.
    New,
    /// Only the baseline had it.
    Removed,
}

impl Class {
    /// `compared`: whether there is a baseline at all (without one, no
    /// case is new).
    fn of(partners: &Partners, compared: bool) -> Class {
        match (partners.current, partners.baseline) {
            (_, None) if !compared => Class::Unchanged,
            (_, None) => Class::New,
            (None, _) => Class::Removed,
            _ => partners.cause().map_or(Class::Unchanged, Class::Changed),
        }
    }

    /// The filter's value.
    pub fn slug(self) -> &'static str {
        match self {
            Class::Changed(Cause::RequestChanged) => "request-changed",
            Class::Changed(Cause::ScoringChanged) => "scoring-changed",
            Class::Changed(Cause::OutputChanged) => "output-changed",
            Class::Changed(Cause::Resampled) => "resampled",
            Class::Changed(Cause::Unknown) => "unknown",
            Class::Unchanged => "unchanged",
            Class::New => "new",
            Class::Removed => "removed",
        }
    }

    /// What the table says.
    pub fn label(self) -> &'static str {
        match self {
            Class::Changed(Cause::RequestChanged) => "request changed",
            Class::Changed(Cause::ScoringChanged) => "scoring changed",
            Class::Changed(Cause::OutputChanged) => "output changed",
            Class::Changed(Cause::Resampled) => "resampled",
            Class::Changed(Cause::Unknown) => "cause unknown",
            Class::Unchanged => "",
            Class::New => "new case",
            Class::Removed => "removed",
        }
    }
}

/// How a shared case's outcome moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flip {
    NewlyFailing,
    NewlyPassing,
    Not,
}

/// One case of the page.
#[derive(Debug, Clone)]
pub struct Case<'a> {
    /// Its row's position: element ids are `r{index}` and `c{index}`.
    pub index: usize,
    pub partners: Partners<'a>,
    pub now: Status,
    pub then: Status,
    pub class: Class,
    /// Positions in [`Labels`]' prompts and providers.
    pub prompt: usize,
    pub provider: usize,
    /// Whether the page has its article.
    pub detailed: bool,
}

impl<'a> Case<'a> {
    pub fn new(
        index: usize,
        partners: Partners<'a>,
        compared: bool,
        (prompt, provider): (usize, usize),
    ) -> Case<'a> {
        Case {
            index,
            now: Status::of(partners.current),
            then: Status::of(partners.baseline),
            class: Class::of(&partners, compared),
            partners,
            prompt,
            provider,
            detailed: false,
        }
    }

    pub fn flip(&self) -> Flip {
        match (self.partners.baseline, self.partners.current) {
            (Some(b), Some(c)) if b.passed && !c.passed => Flip::NewlyFailing,
            (Some(b), Some(c)) if !b.passed && c.passed => Flip::NewlyPassing,
            _ => Flip::Not,
        }
    }

    /// Fails (or errs) in this run.
    pub fn failing(&self) -> bool {
        matches!(self.now, Status::Fail | Status::Error)
    }

    /// `id` and `#repeat`: the matrix's variant has its own column.
    fn name(&self, out: &mut String) {
        let key = self.partners.key();
        escape::page_into(out, &key.id);
        if key.repeat > 0 {
            let _ = write!(out, "#{}", key.repeat);
        }
    }
}

/// The prompt and provider names the rows point into.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    pub prompts: Vec<String>,
    pub providers: Vec<String>,
}

impl Labels {
    fn column(&self, out: &mut String, case: &Case) {
        let prompt = &self.prompts[case.prompt];
        if !prompt.is_empty() {
            escape::page_into(out, prompt);
            out.push_str(" · ");
        }
        escape::page_into(out, &self.providers[case.provider]);
    }
}

/// Appends the case's table row. The filters' attributes are left out at
/// their defaults (not flipped, not failing, unchanged, the first prompt
/// and provider) and so are the cells' and the row's end tags, which HTML
/// implies: a 100,000-row table is half as large.
pub fn row(out: &mut String, case: &Case, labels: &Labels) {
    out.push_str("<tr");
    // Only a row with an article is linked back to (its id).
    if case.detailed {
        let _ = write!(out, r#" id="r{}""#, case.index);
    }
    match case.flip() {
        Flip::NewlyFailing => out.push_str(r#" data-flip="f""#),
        Flip::NewlyPassing => out.push_str(r#" data-flip="p""#),
        Flip::Not => {}
    }
    if case.failing() {
        out.push_str(r#" data-fail="1""#);
    }
    if case.class != Class::Unchanged {
        let _ = write!(out, r#" data-cause="{}""#, case.class.slug());
    }
    if case.prompt > 0 {
        let _ = write!(out, r#" data-p="{}""#, case.prompt);
    }
    if case.provider > 0 {
        let _ = write!(out, r#" data-v="{}""#, case.provider);
    }
    out.push_str("><td>");
    if case.detailed {
        let _ = write!(out, r##"<a href="#c{}">"##, case.index);
        case.name(out);
        out.push_str("</a>");
    } else {
        case.name(out);
    }
    out.push_str("<td>");
    labels.column(out, case);
    let now = case.partners.current;
    let _ = writeln!(
        out,
        r#"<td class="{}">{}<td class="{}">{}<td>{}<td>{}<td>{}<td>{}"#,
        case.now.class(),
        case.now.word(),
        case.then.class(),
        case.then.word(),
        case.class.label(),
        number(now.map(|c| c.score), 2),
        number(now.and_then(|c| c.latency_ms), 0),
        number(now.and_then(|c| c.cost_usd), 6),
    );
}

fn number(x: Option<f64>, decimals: usize) -> String {
    x.filter(|x| x.is_finite())
        .map(|x| format!("{x:.decimals$}"))
        .unwrap_or_default()
}

/// Appends the case's article: what both runs sent and got.
pub fn detail(
    out: &mut String,
    case: &Case,
    labels: &Labels,
    now: Option<&Answer>,
    then: Option<&Answer>,
) {
    let _ = write!(
        out,
        r##"<article class="case" id="c{0}" aria-labelledby="h{0}"><header><a class="close" href="#r{0}" title="back to the table">×</a><h3 id="h{0}">"##,
        case.index
    );
    case.name(out);
    out.push_str("</h3><p class=\"meta\">");
    labels.column(out, case);
    if let Some(answer) = now.or(then) {
        out.push_str(" · model ");
        escape::page_into(out, &answer.model);
        if let Some(source) = &answer.source {
            out.push_str(" · ");
            escape::page_into(out, source);
        }
    }
    match case.flip() {
        Flip::NewlyFailing => out.push_str(" · <strong class=\"fail\">newly failing</strong>"),
        Flip::NewlyPassing => out.push_str(" · <strong class=\"pass\">newly passing</strong>"),
        Flip::Not => {}
    }
    if !case.class.label().is_empty() {
        let _ = write!(out, " · {}", case.class.label());
    }
    out.push_str("</p>");
    if let Some(description) = now.or(then).and_then(|a| a.description.as_deref()) {
        out.push_str("<p class=\"desc\">");
        escape::page_into(out, description);
        out.push_str("</p>");
    }
    out.push_str("</header>");
    prompt(out, now, then);
    sides(out, case, now, then);
    assertions(out, now, then);
    out.push_str("</article>\n");
}

/// This run's prompt; its word diff from the baseline's when they differ.
fn prompt(out: &mut String, now: Option<&Answer>, then: Option<&Answer>) {
    fn text(a: Option<&Answer>) -> Option<&Cut> {
        a.and_then(|a| a.prompt.as_ref())
    }
    match (text(now), text(then)) {
        (Some(now), Some(then)) if now.text != then.text => {
            let diff = diff::words(&then.text, &now.text);
            out.push_str(
                "<h4>Prompt <small>changed since the baseline</small></h4><pre class=\"diff\">",
            );
            out.push_str(&diff.html);
            out.push_str("</pre>");
            cut_note(out, now);
        }
        (Some(text), _) | (None, Some(text)) => {
            out.push_str("<h4>Prompt</h4><pre>");
            escape::page_into(out, &text.text);
            out.push_str("</pre>");
            cut_note(out, text);
        }
        (None, None) => {}
    }
}

/// The two answers side by side, then their word diff.
fn sides(out: &mut String, case: &Case, now: Option<&Answer>, then: Option<&Answer>) {
    out.push_str("<div class=\"sides\">");
    for (title, status, answer) in [("Baseline", case.then, then), ("This run", case.now, now)] {
        let _ = write!(
            out,
            r#"<section><h4>{title} <span class="{}">{}</span></h4>"#,
            status.class(),
            status.word()
        );
        answer_text(out, status, answer);
        out.push_str("</section>");
    }
    out.push_str("</div>");
    fn output(a: Option<&Answer>) -> Option<&str> {
        a.and_then(|a| a.output.as_ref()).map(|c| c.text.as_str())
    }
    if let (Some(before), Some(after)) = (output(then), output(now))
        && before != after
    {
        let diff = diff::words(before, after);
        let _ = write!(
            out,
            "<h4>Word diff <small>{} removed, {} added</small></h4><pre class=\"diff\">{}</pre>",
            diff.removed, diff.inserted, diff.html
        );
    }
}

/// One run's output and error, or why there is none.
fn answer_text(out: &mut String, status: Status, answer: Option<&Answer>) {
    let Some(answer) = answer else {
        out.push_str(if status == Status::Absent {
            "<p class=\"note\">not in this run</p>"
        } else {
            "<p class=\"note\">its answer is not in the history file</p>"
        });
        return;
    };
    match &answer.output {
        Some(output) => {
            out.push_str("<pre>");
            escape::page_into(out, &output.text);
            out.push_str("</pre>");
            cut_note(out, output);
        }
        None => out.push_str("<p class=\"note\">no output</p>"),
    }
    if let Some(error) = &answer.error {
        out.push_str("<pre class=\"error\">");
        escape::page_into(out, error);
        out.push_str("</pre>");
    }
}

fn cut_note(out: &mut String, text: &Cut) {
    if text.is_cut() {
        let _ = write!(
            out,
            "<p class=\"note\">first {} of {} characters</p>",
            text.text.chars().count(),
            text.chars
        );
    }
}

/// Each assertion with its result on the baseline and in this run, by
/// position.
fn assertions(out: &mut String, now: Option<&Answer>, then: Option<&Answer>) {
    fn list(a: Option<&Answer>) -> &[AssertionResult] {
        a.map(|a| a.assertions.as_slice()).unwrap_or_default()
    }
    let (now, then) = (list(now), list(then));
    if now.is_empty() && then.is_empty() {
        return;
    }
    out.push_str("<h4>Assertions</h4><table class=\"asserts\"><thead><tr><th>assertion<th>expected<th>baseline<th>this run<th>why</thead><tbody>");
    for i in 0..now.len().max(then.len()) {
        let (a, b) = (now.get(i), then.get(i));
        let Some(shown) = a.or(b) else { continue };
        out.push_str("<tr><td>");
        escape::page_into(out, &shown.kind);
        out.push_str("<td>");
        escape::page_into(out, shown.expected.as_deref().unwrap_or(""));
        for result in [b, a] {
            verdict(out, result);
        }
        out.push_str("<td>");
        escape::page_into(out, shown.reason.as_deref().unwrap_or(""));
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn verdict(out: &mut String, result: Option<&AssertionResult>) {
    match result {
        Some(r) => {
            let (class, word) = if r.passed {
                ("pass", "pass")
            } else {
                ("fail", "fail")
            };
            let _ = write!(out, r#"<td class="{class}">{word} ({:.2})"#, r.score);
        }
        None => out.push_str("<td class=\"none\">–"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CaseKey;

    const NASTY: &str = "@org/team <script>alert(1)</script> </td></tr></table> \"><img src=x onerror=alert(1)> <!-- x --> \u{2028}";

    fn outcome(id: &str, passed: bool, request: &str) -> CaseOutcome {
        CaseOutcome {
            key: CaseKey {
                id: id.into(),
                repeat: 0,
                variant: None,
            },
            passed,
            score: f64::from(u8::from(passed)),
            request_hash: Some(request.into()),
            scoring_hash: Some("s".into()),
            latency_ms: Some(12.4),
            ..CaseOutcome::default()
        }
    }

    fn answer(output: &str) -> Answer {
        Answer {
            description: Some(NASTY.into()),
            source: Some("d.jsonl:3".into()),
            model: NASTY.into(),
            prompt: Some(Cut {
                text: format!("Q: {NASTY}"),
                chars: 1000,
            }),
            output: Some(Cut {
                text: output.into(),
                chars: output.chars().count() as u64,
            }),
            error: None,
            assertions: vec![AssertionResult {
                kind: "contains".into(),
                passed: false,
                score: 0.0,
                expected: Some(NASTY.into()),
                reason: Some(NASTY.into()),
            }],
        }
    }

    #[test]
    fn a_flipped_row_and_its_article_escape_everything() {
        let (b, c) = (outcome(NASTY, true, "r1"), outcome(NASTY, false, "r2"));
        let partners = Partners {
            current: Some(&c),
            baseline: Some(&b),
        };
        let mut case = Case::new(7, partners, true, (0, 0));
        case.detailed = true;
        assert_eq!(case.flip(), Flip::NewlyFailing);
        assert_eq!(case.class, Class::Changed(Cause::RequestChanged));
        let labels = Labels {
            prompts: vec![NASTY.into()],
            providers: vec![NASTY.into()],
        };
        let mut html = String::new();
        row(&mut html, &case, &labels);
        assert!(
            html.starts_with(
                r#"<tr id="r7" data-flip="f" data-fail="1" data-cause="request-changed"><td>"#
            ),
            "{html}"
        );
        assert!(html.contains(r##"<a href="#c7">"##));
        assert!(html.contains("<td>12<td>"), "{html}");
        detail(
            &mut html,
            &case,
            &labels,
            Some(&answer(&format!("now {NASTY}"))),
            Some(&answer("then")),
        );
        for tag in ["<script", "<img", "<!--", "</table> "] {
            assert!(!html.contains(tag), "{tag} in {html}");
        }
        assert!(
            html.contains("<del>then</del><ins>now") || html.contains("<ins>now"),
            "{html}"
        );
        assert!(
            html.contains("first 109 of 1000 characters") || html.contains("of 1000 characters")
        );
        assert_eq!(html.matches("<article").count(), 1);
    }

    #[test]
    fn new_and_removed_cases_have_one_side() {
        let c = outcome("n", true, "r");
        let new = Case::new(
            0,
            Partners {
                current: Some(&c),
                baseline: None,
            },
            true,
            (0, 0),
        );
        assert_eq!(
            (new.class, new.then, new.flip()),
            (Class::New, Status::Absent, Flip::Not)
        );
        let gone = Case::new(
            1,
            Partners {
                current: None,
                baseline: Some(&c),
            },
            true,
            (0, 0),
        );
        let alone = Case::new(
            2,
            Partners {
                current: Some(&c),
                baseline: None,
            },
            false,
            (0, 0),
        );
        assert_eq!(alone.class, Class::Unchanged);
        assert_eq!((gone.class, gone.now), (Class::Removed, Status::Absent));
        assert!(!gone.failing());
        let labels = Labels {
            prompts: vec![String::new()],
            providers: vec!["p".into()],
        };
        let mut html = String::new();
        row(&mut html, &alone, &labels);
        assert_eq!(
            html,
            "<tr><td>n<td>p<td class=\"pass\">pass<td class=\"none\">–<td><td>1.00<td>12<td>\n",
            "a row at the defaults carries no attribute"
        );
    }
}
