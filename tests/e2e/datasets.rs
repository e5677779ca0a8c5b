//! Dataset formats and malformed rows: each bad row is reported as
//! `file:line: what is wrong` and skipped (failing the gate unless
//! `--allow-malformed`), or stops the run under `--strict`.

use crate::support::{Suite, column, echo_config, number};

fn suite_with(file: &str, contents: &[u8]) -> Suite {
    let suite = Suite::new(&echo_config(&format!(
        "[defaults]\nassert = [{{ type = \"starts-with\", value = \"Q: \" }}]\n[[datasets]]\npath = \"{file}\"\n"
    )));
    suite.write(file, contents);
    suite
}

/// Runs the suite skipping malformed rows, expects it to finish and pass,
/// and returns the warnings.
fn warnings(suite: &Suite) -> Vec<String> {
    warnings_with_code(suite, &["--allow-malformed"], 0)
}

/// Runs the suite with `args`, expects exit code `code`, and returns the
/// warnings.
fn warnings_with_code(suite: &Suite, args: &[&str], code: i32) -> Vec<String> {
    let run = suite.run(args);
    run.expect_code(code);
    run.stderr()
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn jsonl_bad_rows_are_reported_and_skipped() {
    let mut contents = Vec::new();
    contents.extend_from_slice(b"{\"id\": \"a\", \"q\": 1}\n");
    contents.extend_from_slice(b"{\"id\": \"b\", \"q\": \n");
    contents.extend_from_slice(b"[1, 2]\n");
    contents.extend_from_slice(b"{\"id\": \"c\", \"q\": \"caf\xe9\"}\n");
    contents.extend_from_slice(b"\n");
    contents.extend_from_slice(b"{\"id\": \"d\", \"q\": 4}\r\n");
    contents.extend_from_slice(b"{\"id\": \"e\", \"vars\": {}, \"asert\": []}\n");
    let suite = suite_with("d.jsonl", &contents);
    let file = suite.path("d.jsonl").display().to_string();
    assert_eq!(
        warnings(&suite),
        [
            format!(
                "warning: {file}:2: invalid JSON: EOF while parsing a value (column 16); row skipped"
            ),
            format!("warning: {file}:3: expected a JSON object, found an array; row skipped"),
            format!("warning: {file}:4: invalid UTF-8 at byte 22 of the line; row skipped"),
            format!(
                "warning: {file}:7: unknown field `asert`, expected one of `id`, `description`, `vars`, `assert`, `output`, `threshold`, `prompt`, `provider`, `prompts`, `providers`, `transform`, `transform-vars`; row skipped"
            ),
        ]
    );
    assert_eq!(
        column(
            &suite.db(),
            "SELECT case_id FROM case_results ORDER BY ordinal"
        ),
        ["a", "d"]
    );
    assert_eq!(number(&suite.db(), "SELECT rows_skipped FROM runs"), 4);
    // Without --allow-malformed the same rows fail the gate, by location.
    let run = suite.run(&[]);
    run.expect_code(1);
    assert!(
        run.stdout().contains(&format!(
            "the dataset was cut short: 4 rows unreadable at {file}:2, {file}:3, {file}:4, {file}:7; fix them"
        )),
        "{}",
        run.stdout()
    );
}

#[test]
fn csv_bad_rows_are_reported_and_skipped() {
    let mut contents = Vec::new();
    contents.extend_from_slice(b"id,q\n");
    contents.extend_from_slice(b"a,1\n");
    contents.extend_from_slice(b"b,2,extra\n");
    contents.extend_from_slice(b"c,caf\xe9\n");
    contents.extend_from_slice(b"d\n");
    contents.extend_from_slice(b"e,5\n");
    let suite = suite_with("d.csv", &contents);
    let file = suite.path("d.csv").display().to_string();
    assert_eq!(
        warnings(&suite),
        [
            format!("warning: {file}:3: expected 2 columns, found 3; row skipped"),
            format!("warning: {file}:4: invalid UTF-8 in column 'q' at byte 4; row skipped"),
            format!("warning: {file}:5: expected 2 columns, found 1; row skipped"),
        ]
    );
    assert_eq!(
        column(
            &suite.db(),
            "SELECT case_id FROM case_results ORDER BY ordinal"
        ),
        ["a", "e"]
    );
}

#[test]
fn csv_with_bom_crlf_and_quoted_newlines() {
    let contents =
        "\u{feff}id,q\r\nm1,\"line one\r\nline two\"\r\nm2,\"say \"\"hi\"\"\"\r\nm3,plain\r\n";
    let suite = suite_with("d.csv", contents.as_bytes());
    assert!(warnings(&suite).is_empty());
    assert_eq!(
        column(
            &suite.db(),
            "SELECT case_id || '|' || source || '|' || output FROM case_results ORDER BY ordinal"
        ),
        [
            format!(
                "m1|{}:2|Q: line one\r\nline two",
                suite.path("d.csv").display()
            ),
            format!("m2|{}:4|Q: say \"hi\"", suite.path("d.csv").display()),
            format!("m3|{}:5|Q: plain", suite.path("d.csv").display()),
        ]
    );
}

#[test]
fn json_array_rows_report_their_own_lines() {
    let contents = r#"[
  {"id": "j1", "q": "one"},
  {
    "id": "j2",
    "q": "two"
  },
  "not an object",
  {"id": "j3", "q": "three"}
]
"#;
    let suite = suite_with("d.json", contents.as_bytes());
    let file = suite.path("d.json").display().to_string();
    assert_eq!(
        warnings(&suite),
        [format!(
            "warning: {file}:7: expected a JSON object, found a string; row skipped"
        )]
    );
    assert_eq!(
        column(
            &suite.db(),
            "SELECT case_id || ' ' || source FROM case_results ORDER BY ordinal"
        ),
        [
            format!("j1 {file}:2"),
            format!("j2 {file}:3"),
            format!("j3 {file}:8"),
        ]
    );
}

#[test]
fn a_json_syntax_error_is_one_bad_row_and_reading_goes_on() {
    let contents =
        "[\n{\"id\": \"j1\", \"q\": 1},\n{\"id\": \"j2\" \"q\": 2},\n{\"id\": \"j3\", \"q\": 3}\n]";
    let suite = suite_with("d.json", contents.as_bytes());
    let file = suite.path("d.json").display().to_string();
    assert_eq!(
        warnings(&suite),
        [format!(
            "warning: {file}:3: invalid JSON: expected `,` or `}}` (column 13); row skipped"
        )]
    );
    assert_eq!(
        column(
            &suite.db(),
            "SELECT case_id FROM case_results ORDER BY ordinal"
        ),
        ["j1", "j3"]
    );
}

#[test]
fn a_json_string_that_never_closes_cuts_the_file_short() {
    let contents = "[\n{\"id\": \"j1\", \"q\": 1},\n{\"id\": \"j2\", \"q\": \"2},\n{\"id\": \"j3\", \"q\": 3}\n]";
    let suite = suite_with("d.json", contents.as_bytes());
    let file = suite.path("d.json").display().to_string();
    // The rows before it run; the file was cut short, so the gate cannot pass.
    assert_eq!(
        warnings_with_code(&suite, &["--allow-malformed"], 1),
        [format!(
            "warning: {file}:3: the file ends inside this element (a string or bracket never closes); the rest of this file is skipped; row skipped"
        )]
    );
    assert_eq!(
        column(&suite.db(), "SELECT case_id FROM case_results"),
        ["j1"]
    );
}

#[test]
fn one_huge_element_or_line_is_one_bad_row_and_reading_goes_on() {
    // 20 MB in one value, past the default 8 MiB limit.
    let huge = "x".repeat(20 << 20);
    let json = format!(
        "[{{\"id\": \"a\", \"q\": 1}},\n{{\"id\": \"big\", \"q\": \"{huge}\"}},\n{{\"id\": \"c\", \"q\": 3}}]"
    );
    let jsonl = format!(
        "{{\"id\": \"a\", \"q\": 1}}\n{{\"id\": \"big\", \"q\": \"{huge}\"}}\n{{\"id\": \"c\", \"q\": 3}}\n"
    );
    for (name, contents, what) in [
        ("d.json", json, "an element longer than 8388608 bytes"),
        ("d.jsonl", jsonl, "the line is longer than 8388608 bytes"),
    ] {
        let suite = suite_with(name, contents.as_bytes());
        let file = suite.path(name).display().to_string();
        assert_eq!(
            warnings(&suite),
            [format!(
                "warning: {file}:2: {what} (suite.max-line-size); row skipped"
            )]
        );
        assert_eq!(
            column(
                &suite.db(),
                "SELECT case_id FROM case_results ORDER BY ordinal"
            ),
            ["a", "c"],
            "{name}"
        );
    }
}

#[test]
fn missing_id_when_required() {
    let suite = Suite::new(
        &echo_config("[[datasets]]\npath = \"d.jsonl\"\n")
            .replace("name = \"t\"", "name = \"t\"\nrequire-ids = true"),
    );
    suite.write("d.jsonl", "{\"id\": \"a\", \"q\": 1}\n{\"q\": 2}\n");
    let run = suite.run(&["--allow-malformed"]);
    run.expect_code(0);
    let expected = format!(
        "warning: {}:2: missing id (suite.require-ids is set); row skipped",
        suite.path("d.jsonl").display()
    );
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
}

#[test]
fn strict_stops_at_the_first_bad_row() {
    let suite = suite_with(
        "d.jsonl",
        b"{\"id\": \"a\", \"q\": 1}\nnot json\n{\"id\": \"c\", \"q\": 3}\n",
    );
    let run = suite.run(&["--strict"]);
    run.expect_code(2);
    let expected = format!(
        "error: {}:2: invalid JSON: expected ident (column 2) (--strict stops at the first bad row)",
        suite.path("d.jsonl").display()
    );
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
    assert_eq!(column(&suite.db(), "SELECT status FROM runs"), ["failed"]);
}

#[test]
fn globs_read_every_matching_file_in_order() {
    let suite = Suite::new(&echo_config("[[datasets]]\npath = \"data/*.jsonl\"\n"));
    suite.write("data/b.jsonl", "{\"id\": \"b1\", \"q\": 1}\n");
    suite.write(
        "data/a.jsonl",
        "{\"id\": \"a1\", \"q\": 1}\n{\"id\": \"a2\", \"q\": 1}\n",
    );
    suite.write("data/skip.csv", "id,q\nc1,1\n");
    suite.run(&[]).expect_code(0);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT case_id FROM case_results ORDER BY ordinal"
        ),
        ["a1", "a2", "b1"]
    );
}

#[test]
fn batches_cover_every_case_once() {
    let rows: String = (0..237)
        .map(|i| format!("{{\"id\": \"c{i}\", \"q\": {i}}}\n"))
        .collect();
    let suite = suite_with("d.jsonl", rows.as_bytes());
    suite
        .run(&["--batch-size", "10", "--concurrency", "3"])
        .expect_code(0);
    assert_eq!(
        number(
            &suite.db(),
            "SELECT count(DISTINCT case_id) FROM case_results"
        ),
        237
    );
    assert_eq!(
        number(&suite.db(), "SELECT max(ordinal) FROM case_results"),
        236
    );
    assert_eq!(number(&suite.db(), "SELECT count(*) FROM scores"), 237);
    // 24 batches of at most 10; the batches that queue while one is written
    // share a transaction, so there are at most 24 writes.
    let writes = number(
        &suite.db(),
        "SELECT calls FROM timings WHERE component = 'storing'",
    );
    assert!((1..=24).contains(&writes), "{writes} writes");
}
