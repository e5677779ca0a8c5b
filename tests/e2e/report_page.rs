//! Issue 27: the report page. A pull request's run with flips, new and
//! removed cases, whose answers and ids carry the injection corpus, is
//! rendered to report.html; the page is checked with an HTML parser
//! (structure, counts, escaping) and in headless Chromium with JavaScript
//! on (filters, sorting, no console errors, nothing hostile ran), offline.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

use crate::support::{BIN, Run, Suite, clean_env};

/// What a model (here: the echo provider, which answers with the prompt)
/// or a dataset could put on the page. Each one would run, load or
/// navigate if it reached the page as markup.
const HOSTILE: &[&str] = &[
    "<script>window.__pwned=1;alert(1)</script>",
    "\"><img src=x onerror=\"window.__pwned=2\">",
    "</script><script>window.__pwned=3</script>",
    "<svg onload=window.__pwned=4><animate onbegin=alert(4)>",
    "</textarea></title></style><iframe srcdoc=\"<script>parent.__pwned=5</script>\"></iframe>",
    "<base href=\"https://evil.example/\"><meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
    "<!-- ai-evals:report --> @org/team ]]> {{ 7*7 }} &amp; &lt;b&gt;",
    "\u{2028}\u{2029}\u{1b}[31m\u{7} <a href=\"javascript:window.__pwned=6\">x</a>",
];

/// `pull_request.base.sha` of the event fixture.
const BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";

const CONFIG: &str = r#"[suite]
name = "page"
min-pass-rate = 0.0

[prompts]
ask = "Q: {{ q }}"
terse = "{{ q }}"

[providers.a]
type = "echo"

[providers.b]
type = "echo"

[defaults]
prompts = ["ask", "terse"]
providers = ["a", "b"]
assert = [{ type = "contains", value = "{{ expected }}" }]

[[datasets]]
path = "cases.jsonl"
"#;

/// A dataset row as JSONL.
fn row(id: &str, q: &str, expected: &str) -> String {
    format!(
        "{}\n",
        serde_json::json!({"id": id, "q": q, "expected": expected})
    )
}

/// The id of row `i`: one carries markup itself.
fn id(i: usize) -> String {
    if i == 3 {
        format!("c3 {}", HOSTILE[0])
    } else {
        format!("c{i}")
    }
}

/// Main's rows: `c0`…`c7` pass, each answering with one hostile string,
/// and `bad` fails.
fn main_rows() -> String {
    let mut rows: String = (0..8)
        .map(|i| {
            row(
                &id(i),
                &format!("answer {i} {}", HOSTILE[i]),
                &format!("answer {i}"),
            )
        })
        .collect();
    rows.push_str(&row("bad", "nothing", "answer 99"));
    rows
}

/// The pull request's rows: `c0` and `c3` break (their request changed),
/// `bad` is fixed, `c7` is gone and `fresh` is new. Four cases each (two
/// prompts × two providers): 8 newly failing, 4 newly passing, 4 new, 4
/// removed, 40 rows in all.
fn pr_rows() -> String {
    let mut rows: String = (0..7)
        .map(|i| {
            let verb = if i == 0 || i == 3 { "reply" } else { "answer" };
            row(
                &id(i),
                &format!("{verb} {i} {}", HOSTILE[i]),
                &format!("answer {i}"),
            )
        })
        .collect();
    rows.push_str(&row("bad", "answer 99", "answer 99"));
    rows.push_str(&row(
        "fresh",
        &format!("answer 8 {}", HOSTILE[7]),
        "answer 8",
    ));
    rows
}

/// Main's run, then the pull request's with its report folder and the
/// Actions variables that give the comment its links.
fn flipped_run() -> (Suite, Run) {
    let suite = Suite::new(CONFIG);
    suite.write("cases.jsonl", main_rows());
    suite
        .run_env(&[], &[("GITHUB_REF_NAME", "main"), ("GITHUB_SHA", BASE)])
        .expect_code(0);
    suite.write("cases.jsonl", pr_rows());
    let reports = suite.path("reports");
    let output = suite.path("github-output.txt");
    let pr = suite.run_env(
        &["--report-dir", reports.to_str().unwrap(), "--no-comment"],
        &[
            ("GITHUB_REF_NAME", "feature"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "octo-org/octo-repo"),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ],
    );
    pr.expect_code(1);
    (suite, pr)
}

fn select<'a>(page: &'a Html, css: &str) -> Vec<ElementRef<'a>> {
    page.select(&Selector::parse(css).expect("selector"))
        .collect()
}

fn text(element: &ElementRef) -> String {
    element.text().collect()
}

/// The checks every rendering of the page passes: one script and only
/// nonce'd elements, no element or attribute from a hostile string.
fn assert_safe(page: &Html) -> String {
    let csp = select(page, "meta[http-equiv='Content-Security-Policy']");
    assert_eq!(csp.len(), 1);
    let policy = csp[0].value().attr("content").unwrap();
    assert!(policy.starts_with("default-src 'none'; "), "{policy}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce");
    assert!(nonce.len() >= 32, "{nonce}");
    let scripts = select(page, "script");
    assert_eq!(scripts.len(), 1, "one script: the page's own");
    assert_eq!(scripts[0].value().attr("nonce"), Some(nonce));
    for style in select(page, "style") {
        assert_eq!(style.value().attr("nonce"), Some(nonce));
    }
    for tag in [
        "iframe",
        "img",
        "base",
        "object",
        "embed",
        "animate",
        "textarea",
        "meta[http-equiv=refresh]",
    ] {
        assert!(select(page, tag).is_empty(), "a <{tag}> reached the page");
    }
    for element in page
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        for (name, value) in element.value().attrs() {
            assert!(
                !name.starts_with("on"),
                "{name}={value} on <{}>",
                element.value().name()
            );
            assert!(!value.contains("javascript:"), "{name}={value}");
            if name == "style" {
                panic!("an inline style attribute, which the policy blocks: {value}");
            }
        }
    }
    nonce.to_string()
}

/// The hostile strings are on the page, as text.
fn assert_shown_as_text(page: &Html) {
    let all_text: String = page.root_element().text().collect();
    for hostile in HOSTILE.iter().take(6) {
        assert!(all_text.contains(hostile), "{hostile} is not shown as text");
    }
}

fn read_page(path: &Path) -> Html {
    let text = std::fs::read_to_string(path).expect("report.html");
    Html::parse_document(&text)
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report.json")).expect("JSON")
}

/// The `data-` attribute `name` of every row, counted by value.
fn counted(rows: &[ElementRef], name: &str, value: &str) -> usize {
    rows.iter()
        .filter(|r| r.value().attr(name) == Some(value))
        .count()
}

#[test]
fn the_page_pairs_every_case_with_its_baseline_and_escapes_every_answer() {
    let (suite, _) = flipped_run();
    let page = read_page(&suite.path("reports/report.html"));
    assert_safe(&page);
    assert_shown_as_text(&page);
    let report = json(&suite.path("reports/report.json"));
    let quality = &report["comparison"]["comparison"]["quality"];
    assert_eq!(quality["newly_failing"].as_array().unwrap().len(), 8);

    let rows = select(&page, "#cases-table tbody tr");
    assert_eq!(rows.len(), 40, "32 shared, 4 new, 4 removed");
    assert_eq!(counted(&rows, "data-flip", "f"), 8);
    assert_eq!(counted(&rows, "data-flip", "p"), 4);
    assert_eq!(counted(&rows, "data-fail", "1"), 8);
    assert_eq!(counted(&rows, "data-cause", "new"), 4);
    assert_eq!(counted(&rows, "data-cause", "removed"), 4);
    assert_eq!(counted(&rows, "data-cause", "request-changed"), 12);
    let unchanged = rows
        .iter()
        .filter(|r| r.value().attr("data-cause").is_none())
        .count();
    assert_eq!(unchanged, 20, "a row at its defaults carries no attribute");
    for row in &rows {
        let cells: Vec<String> = row
            .children()
            .filter_map(ElementRef::wrap)
            .map(|c| text(&c))
            .collect();
        assert_eq!(cells.len(), 8, "{cells:?}");
    }
    // The hostile id is a cell's text; element ids are positions.
    let ids: BTreeSet<String> = rows
        .iter()
        .map(|r| text(&r.children().filter_map(ElementRef::wrap).next().unwrap()))
        .collect();
    assert!(ids.contains(&format!("c3 {}", HOSTILE[0])), "{ids:?}");
    for element in page
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        if let Some(id) = element.value().id() {
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{id}"
            );
        }
    }

    // Every case has its article (the suite is small): both answers, and
    // for a newly failing one, the word diff and each assertion's result.
    assert_eq!(select(&page, "article.case").len(), 40);
    let flipped = rows
        .iter()
        .find(|r| r.value().attr("data-flip") == Some("f"))
        .unwrap();
    let link = select(&page, &format!("#{} a", flipped.value().id().unwrap()));
    let target = link[0].value().attr("href").unwrap();
    let article = select(&page, &format!("article{target}"));
    assert_eq!(article.len(), 1, "{target}");
    let sides = select(&page, &format!("article{target} .sides pre"));
    assert_eq!(sides.len(), 2);
    assert!(text(&sides[0]).contains("answer"), "the baseline's answer");
    assert!(text(&sides[1]).contains("reply"), "this run's answer");
    let del: Vec<String> = select(&page, &format!("article{target} pre.diff del"))
        .iter()
        .map(text)
        .collect();
    let ins: Vec<String> = select(&page, &format!("article{target} pre.diff ins"))
        .iter()
        .map(text)
        .collect();
    assert!(del.iter().any(|d| d.contains("answer")), "{del:?}");
    assert!(ins.iter().any(|i| i.contains("reply")), "{ins:?}");
    let asserts = select(&page, &format!("article{target} table.asserts tbody tr"));
    assert_eq!(asserts.len(), 1);
    let verdicts: Vec<String> = asserts[0]
        .children()
        .filter_map(ElementRef::wrap)
        .map(|c| text(&c))
        .collect();
    assert_eq!(&verdicts[2..4], ["pass (1.00)", "fail (0.00)"]);

    // The verdict and gate reasons, as in the comment; the matrix; no
    // compact note on a small suite.
    let reasons = select(&page, "#gate-reasons li");
    assert_eq!(
        reasons.len(),
        report["gate_reasons"].as_array().unwrap().len()
    );
    assert!(text(&select(&page, "h1")[0]).contains("gate failed"));
    assert_eq!(select(&page, ".matrix button").len(), 4);
    assert_eq!(select(&page, "select[name=prompt] option").len(), 3);
    assert!(select(&page, "#compact-note").is_empty());
    assert_eq!(
        select(&page, "svg.chart").len(),
        1,
        "the trend; echo has no latency"
    );

    // The comment links to the run's artifacts, and the outputs name the page.
    let comment = std::fs::read_to_string(suite.path("reports/comment.md")).unwrap();
    assert!(
        comment.contains("https://github.com/octo-org/octo-repo/actions/runs/4242#artifacts"),
        "{comment}"
    );
    let outputs = std::fs::read_to_string(suite.path("github-output.txt")).unwrap();
    assert!(outputs.contains("html-path"), "{outputs}");
}

/// `ai-evals report` with its arguments, on the suite's history.
fn report(suite: &Suite, args: &[&str]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("report")
        .arg("--db")
        .arg(suite.db())
        .args(args)
        .current_dir(suite.dir.path());
    clean_env(&mut cmd);
    Run(cmd.output().expect("run ai-evals report"))
}

#[test]
fn report_html_renders_a_stored_run_and_says_where_the_baseline_is_missing() {
    let (suite, _) = flipped_run();
    let page_path = suite.path("again/page.html");
    let again = report(
        &suite,
        &["--html", page_path.to_str().unwrap(), "--no-comment"],
    );
    again.expect_code(1);
    assert!(
        again.stderr().contains("40 cases, 40 with their answers"),
        "{}",
        again.stderr()
    );
    let page = read_page(&page_path);
    let nonce = assert_safe(&page);
    let first = read_page(&suite.path("reports/report.html"));
    assert_ne!(nonce, assert_safe(&first), "a fresh nonce per page");
    assert_eq!(select(&page, "#cases-table tbody tr").len(), 40);
    assert!(select(&page, "#baseline-note").is_empty());

    // The baseline taken from a history file that does not hold it: the
    // page says so and shows this run alone.
    let other = Suite::new(CONFIG);
    other.write("cases.jsonl", row("x", "answer 1", "answer 1"));
    other.run(&[]).expect_code(0);
    let alone = suite.path("alone.html");
    report(
        &suite,
        &[
            "--html",
            alone.to_str().unwrap(),
            "--baseline-db",
            other.db().to_str().unwrap(),
            "--no-comment",
        ],
    )
    .expect_code(1);
    let page = read_page(&alone);
    assert_safe(&page);
    assert_shown_as_text(&page);
    let note = text(&select(&page, "#baseline-note")[0]);
    assert!(
        note.contains("is not in") && note.contains("--baseline-db"),
        "{note}"
    );
    let rows = select(&page, "#cases-table tbody tr");
    assert_eq!(rows.len(), 36, "this run's cases");
    assert!(rows.iter().all(|r| r.value().attr("data-flip").is_none()));
    assert!(
        rows.iter().all(|r| r.value().attr("data-cause").is_none()),
        "no case is new without a baseline"
    );

    // A first run, with nothing to compare with: the page says so once.
    let first = other.path("first.html");
    report(&other, &["--html", first.to_str().unwrap(), "--no-comment"]).expect_code(0);
    let page = read_page(&first);
    assert_safe(&page);
    assert!(select(&page, "#baseline-note").is_empty());
    let summary = text(&select(&page, "#summary")[0]);
    assert_eq!(summary.matches("No comparison").count(), 1, "{summary}");
    assert_eq!(
        select(&page, "#cases-table tbody tr").len(),
        4,
        "two prompts × two providers"
    );
    assert!(text(&select(&page, "h1")[0]).contains("no baseline"));

    // --html goes with a stored run, not with another job's report.json.
    let clash = report(
        &suite,
        &["--from-json", "reports/report.json", "--html", "x.html"],
    );
    clash.expect_code(2);
}

#[test]
fn above_the_limit_only_flipped_and_failing_cases_carry_their_answers() {
    let config = r#"[suite]
name = "big"
min-pass-rate = 0.0

[prompts]
ask = "{{ q }}"

[providers.echo]
type = "echo"

[defaults]
assert = [{ type = "contains", value = "{{ expected }}" }]

[[datasets]]
path = "cases.jsonl"
"#;
    let cases = 5_100;
    let rows = |broken: &dyn Fn(usize) -> bool| -> String {
        (0..cases)
            .map(|i| {
                let q = if broken(i) {
                    format!("no {i}")
                } else {
                    format!("answer {i}")
                };
                row(&format!("c{i}"), &q, &format!("answer {i}"))
            })
            .collect()
    };
    let suite = Suite::new(config);
    suite.write("cases.jsonl", rows(&|i| i % 1000 == 7));
    suite
        .run_env(&[], &[("GITHUB_REF_NAME", "main"), ("GITHUB_SHA", BASE)])
        .expect_code(0);
    // 20 break and 2 of the 6 failing ones are fixed: 24 failing now, 26
    // with the newly passing.
    suite.write(
        "cases.jsonl",
        rows(&|i| (i % 1000 == 7 && i > 2000) || (100..120).contains(&i)),
    );
    let reports = suite.path("reports");
    suite
        .run_env(
            &["--report-dir", reports.to_str().unwrap(), "--no-comment"],
            &[("GITHUB_REF_NAME", "feature")],
        )
        .expect_code(0);
    let page = read_page(&reports.join("report.html"));
    assert_safe(&page);
    let rows = select(&page, "#cases-table tbody tr");
    assert_eq!(rows.len(), cases);
    assert_eq!(counted(&rows, "data-flip", "f"), 20);
    assert_eq!(counted(&rows, "data-flip", "p"), 2);
    let articles = select(&page, "article.case");
    assert_eq!(articles.len(), 26, "flipped and failing cases only");
    let linked = select(&page, "#cases-table tbody tr td a");
    assert_eq!(linked.len(), 26, "only rows with an article link to one");
    let note = text(&select(&page, "#compact-note")[0]);
    assert!(note.contains("5100 cases, more than 5000"), "{note}");
    assert!(note.contains("answers of 26 of them"), "{note}");
}

/// Where `.ci/browser-setup` installs playwright-core: beside the build.
fn playwright_core() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .to_path_buf();
    std::env::var_os("AI_EVALS_PLAYWRIGHT_CORE")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("browser-node/node_modules/playwright-core"))
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether the browser test can run here; in CI it must.
fn browser_ready() -> Option<PathBuf> {
    let core = playwright_core();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing: Vec<&str> = [
        (!Path::new(CHROMIUM).exists()).then_some("chromium (apt-get install chromium)"),
        (!node).then_some("node"),
        (!core.join("package.json").exists()).then_some("playwright-core (.ci/browser-setup)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return Some(core);
    }
    let message = format!(
        "the browser test needs {}: run .ci/browser-setup, which installs them",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("\n!!!!!!!! SKIPPED report_page browser test: {message} !!!!!!!!\n");
    None
}

/// The command that runs `node script`, without network where a network
/// namespace can be made (the page must work offline).
fn offline(script: &Path) -> Command {
    for prefix in [&["-n"][..], &["-rn"][..]] {
        let works = Command::new("unshare")
            .args(prefix)
            .arg("true")
            .status()
            .is_ok_and(|s| s.success());
        if works {
            let mut cmd = Command::new("unshare");
            cmd.args(prefix).arg("node").arg(script);
            return cmd;
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs the browser without network: unshare -n must work"
    );
    eprintln!("report_page: no network namespace here; the browser runs with the network");
    let mut cmd = Command::new("node");
    cmd.arg(script);
    cmd
}

#[test]
fn in_chromium_the_filters_and_sorting_work_and_no_hostile_output_runs() {
    let Some(core) = browser_ready() else { return };
    let (suite, _) = flipped_run();
    let page = suite.path("reports/report.html");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/report_page.cjs");
    let out = offline(&script)
        .arg(&page)
        .env("PLAYWRIGHT_CORE", &core)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));

    // Nothing hostile ran, nothing was fetched, nothing complained.
    assert_eq!(seen["pwned"], Value::Null, "{seen}");
    assert_eq!(seen["failure"], Value::Null, "{seen}");
    assert_eq!(seen["dialogs"], 0, "{seen}");
    assert_eq!(seen["violations"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["requests"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["console"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["scripts"], 1);
    assert_eq!(seen["frames"], 1, "no frame from an answer");
    assert_eq!(seen["hostile_text"], true, "the answers are shown as text");

    // The filters, each on its own and together.
    assert_eq!(seen["total"], 40);
    assert_eq!(seen["flipped"], 12);
    assert_eq!(seen["flipped_failing"], 8);
    assert_eq!(seen["shown"], "8 of 40 cases");
    assert_eq!(seen["after_reset"], 40);
    assert_eq!(seen["cause_new"], 4);
    assert_eq!(seen["cause_removed"], 4);
    assert_eq!(seen["prompt"], 20);
    assert_eq!(seen["prompt_provider"], 10);
    assert_eq!(seen["search"], 4, "the four combinations of c3");
    assert_eq!(seen["matrix_cell"], 10);

    // Sorting by score: ascending, then descending on a second click.
    let scores = |key: &str| -> Vec<f64> {
        seen[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse().unwrap_or(f64::NEG_INFINITY))
            .collect()
    };
    let up = scores("scores_up");
    assert_eq!(up.len(), 40);
    assert!(up.windows(2).all(|w| w[0] <= w[1]), "{up:?}");
    let down = scores("scores_down");
    assert!(down.windows(2).all(|w| w[0] >= w[1]), "{down:?}");

    // A flipped case's article opens beside the table with its diff.
    let article = &seen["article"];
    assert_eq!(article["visible"], true, "{article}");
    assert!(article["dels"].as_u64().unwrap() >= 1, "{article}");
    assert!(article["ins"].as_u64().unwrap() >= 1, "{article}");
    assert_eq!(seen["closed"], true, "Escape closes it");
}
