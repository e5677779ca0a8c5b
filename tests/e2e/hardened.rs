//! The Action's trust boundaries, through its own shell steps and the real
//! binary:
//!
//! - Matrix legs `gpt-4o` and `gpt-4o-mini` (and a leg without `id`, and a
//!   shard) neither restore (actions/cache's prefix matching, simulated)
//!   nor delete (`cache gc` against a fake Actions cache REST API) each
//!   other's entries.
//! - The GitHub token is never in the suite's environment: a process the
//!   run starts (git) sees neither `GITHUB_TOKEN` nor the private name the
//!   Action hands it over under.
//! - A config naming a GitHub or runner variable as its `api-key-env` is
//!   refused (exit 2, the key named) before any request.
//! - On `pull_request_target` from a fork the suite does not run.

use std::sync::{Arc, Mutex};

use mock_provider::Config as MockConfig;
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

use crate::action::{cases, event, outputs, paths_and_run, push_env, refs, step, suite};
use crate::support::{BIN, Suite};

const REPO: &str = "Codertocat/Hello-World";
const MAIN: &str = "refs/heads/master";

/// One entry of the Actions cache, as the REST API shows it.
#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    key: String,
    git_ref: String,
    created_at: String,
}

/// The repository's Actions cache: what actions/cache saves and restores,
/// and the REST API `cache gc` lists and deletes through
/// (`GET /repos/{o}/{r}/actions/caches`, `DELETE .../actions/caches/{id}`).
#[derive(Debug, Clone, Default)]
struct Caches(Arc<Mutex<Vec<Entry>>>);

impl Caches {
    /// actions/cache/save: a new entry, newer than every other.
    fn save(&self, key: &str, git_ref: &str) {
        let mut entries = self.0.lock().unwrap();
        let n = entries.len() as u64 + 1;
        entries.push(Entry {
            id: 500 + n,
            key: key.to_string(),
            git_ref: git_ref.to_string(),
            created_at: format!("2026-12-01T10:{:02}:00Z", n),
        });
    }

    /// actions/cache/restore: the exact key, else for each restore key in
    /// turn the newest entry whose key starts with it; each in the run's
    /// own ref first, then the base (default) branch.
    fn restore(&self, key: &str, restore_keys: &[&str], scopes: &[&str]) -> Option<String> {
        let entries = self.0.lock().unwrap();
        let newest = |pred: &dyn Fn(&Entry) -> bool| {
            scopes.iter().find_map(|scope| {
                entries
                    .iter()
                    .filter(|e| e.git_ref == *scope && pred(e))
                    .max_by(|a, b| a.created_at.cmp(&b.created_at))
                    .map(|e| e.key.clone())
            })
        };
        newest(&|e| e.key == key).or_else(|| {
            restore_keys
                .iter()
                .find_map(|prefix| newest(&|e| e.key.starts_with(prefix)))
        })
    }

    fn keys(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.key.clone())
            .collect()
    }
}

impl Respond for Caches {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let route = format!("/repos/{REPO}/actions/caches");
        let path = request.url.path();
        if request.method.as_str() == "DELETE" {
            let id = path
                .strip_prefix(&format!("{route}/"))
                .and_then(|id| id.parse::<u64>().ok());
            let mut entries = self.0.lock().unwrap();
            let before = entries.len();
            entries.retain(|e| Some(e.id) != id);
            return if entries.len() < before {
                ResponseTemplate::new(204)
            } else {
                ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
            };
        }
        if request.method.as_str() != "GET" || path != route {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        }
        let query = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        // The API's `key` is a prefix; `ref` is exact.
        let prefix = query("key").unwrap_or_default();
        let per_page: usize = query("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
        let page: usize = query("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let mut matched: Vec<Entry> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.key.starts_with(&prefix))
            .filter(|e| query("ref").is_none_or(|r| r == e.git_ref))
            .cloned()
            .collect();
        matched.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        let shown: Vec<Value> = matched
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|e| {
                json!({
                    "id": e.id, "ref": e.git_ref, "key": e.key,
                    "version": "73885106f58cc52a7df9ec4d4a5622a5614813162cb516c759a30af6bf56e6f0",
                    "last_accessed_at": e.created_at, "created_at": e.created_at,
                    "size_in_bytes": 1024,
                })
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"total_count": matched.len(), "actions_caches": shown}))
    }
}

/// The key prefixes the Action's `paths` step names for one use of it.
struct Leg {
    name: &'static str,
    history: String,
    responses: String,
}

fn leg(name: &'static str, env: &[(&'static str, &'static str)]) -> Leg {
    let suite = suite("http://127.0.0.1:9");
    cases(&suite, 0);
    let push = event("push_payload.json");
    let out = step(&suite, "paths", &refs(&push_env(&push), env));
    assert!(out.status.success(), "{out:?}");
    let named = outputs(&suite);
    Leg {
        name,
        history: named["history-key-prefix"].clone(),
        responses: named["responses-key-prefix"].clone(),
    }
}

fn saved(prefix: &str, push: u32) -> String {
    let sha = format!("{push:x}").repeat(40);
    format!("{prefix}{}-{}-1", &sha[..40], 1000 + push)
}

#[test]
fn matrix_legs_never_restore_or_delete_each_others_cache_entries() {
    let legs = [
        leg("gpt-4o", &[("INPUT_ID", "gpt-4o")]),
        leg("gpt-4o-mini", &[("INPUT_ID", "gpt-4o-mini")]),
        leg("no id", &[]),
        leg("shard 1/2", &[("INPUT_SHARD", "1/2")]),
    ];
    assert!(legs[3].history.is_empty(), "a shard keeps no history");
    let prefixes = |l: &Leg| {
        [l.history.clone(), l.responses.clone()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
    };

    // Two pushes to main; the gpt-4o leg saves first each time, so the
    // other legs' entries are always the newest.
    let caches = Caches::default();
    // Under gpt-4o's prefix but not the shape of a save (someone's own,
    // older): no gc ever deletes it.
    let foreign = format!("{}manual-copy", legs[0].history);
    caches.save(&foreign, MAIN);
    for push in 1..=2 {
        for leg in &legs {
            for prefix in prefixes(leg) {
                caches.save(&saved(&prefix, push), MAIN);
            }
        }
    }

    // A pull request restores main's entries: each leg its own, newest.
    for leg in &legs {
        for prefix in prefixes(leg) {
            let restored = caches.restore(
                &format!("{prefix}{}", "f".repeat(40)),
                &[&prefix],
                &["refs/pull/2/merge", MAIN],
            );
            assert_eq!(
                restored,
                Some(saved(&prefix, 2)),
                "{}: restored another leg's entry",
                leg.name
            );
        }
    }

    // The gpt-4o leg's next push to main deletes what it superseded, as the
    // action's gc step does; then the leg without an id.
    let rt = Runtime::new().unwrap();
    let api = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(caches.clone())
            .mount(&server)
            .await;
        server
    });
    let uri = api.uri();
    let gc = |leg: &Leg| {
        let suite = Suite::new("");
        let out = step(
            &suite,
            "gc",
            &[
                ("RESPONSES_KEY_PREFIX", leg.responses.as_str()),
                ("HISTORY_KEY_PREFIX", leg.history.as_str()),
                ("SAVE_HISTORY", "true"),
                ("GITHUB_REF", MAIN),
                ("GITHUB_REPOSITORY", REPO),
                ("GITHUB_API_URL", uri.as_str()),
                ("AI_EVALS_GITHUB_TOKEN", "ghs_gc_token"),
            ],
        );
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let printed = gc(&legs[0]);
    assert!(!printed.contains("could not delete"), "{printed}");
    let mut left = caches.keys();
    left.sort();
    let mut want: Vec<String> = legs
        .iter()
        .flat_map(|l| {
            let pushes: &[u32] = if l.name == "gpt-4o" { &[2] } else { &[1, 2] };
            prefixes(l)
                .into_iter()
                .flat_map(|p| pushes.iter().map(move |&n| saved(&p, n)))
        })
        .chain([foreign.clone()])
        .collect();
    want.sort();
    assert_eq!(left, want, "only gpt-4o's superseded entries are gone");

    gc(&legs[2]);
    let left = caches.keys();
    for leg in [&legs[0], &legs[1], &legs[3]] {
        for prefix in prefixes(leg) {
            assert!(left.contains(&saved(&prefix, 2)), "{}: {left:?}", leg.name);
        }
    }
    assert!(left.contains(&saved(&legs[1].history, 1)), "{left:?}");
    assert!(!left.contains(&saved(&legs[2].history, 1)), "{left:?}");
    assert!(left.contains(&foreign));

    let requests = rt.block_on(api.received_requests()).unwrap();
    assert!(requests.iter().all(|r| {
        r.headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap().ends_with("ghs_gc_token"))
    }));
}

/// A fake `git` that writes the environment it was started with.
fn git_that_dumps_its_environment(suite: &Suite) -> String {
    let dir = suite.path("fake-git");
    std::fs::create_dir_all(&dir).unwrap();
    let git = dir.join("git");
    std::fs::write(&git, "#!/bin/sh\nenv >\"$ENV_DUMP\"\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&git, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = std::path::Path::new(BIN).parent().unwrap();
    format!(
        "{}:{}:{}",
        dir.display(),
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn the_github_token_never_reaches_the_suites_environment() {
    let rt = Runtime::new().unwrap();
    let provider = rt
        .block_on(mock_provider::start(MockConfig::default()))
        .unwrap();
    let suite = suite(&provider.url());
    cases(&suite, 0);
    let path = git_that_dumps_its_environment(&suite);
    let dump = suite.path("git-env.txt");
    // Started by hand, with no commit in the environment: the run asks git.
    // A job-level GITHUB_TOKEN and GH_TOKEN, and the Action's private name.
    let (_, run) = paths_and_run(
        &suite,
        &[
            ("PATH", &path),
            ("ENV_DUMP", dump.to_str().unwrap()),
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
            ("GITHUB_TOKEN", "ghs_job_level_token"),
            ("GH_TOKEN", "ghs_gh_cli_token"),
            ("AI_EVALS_GITHUB_TOKEN", "ghs_private_token"),
        ],
    );
    assert_eq!(outputs(&suite)["exit-code"], "0", "{run:?}");
    let seen = std::fs::read_to_string(&dump).expect("the run started git");
    assert!(
        seen.contains("AI_EVALS_MOCK_KEY=sk-mock"),
        "git saw the suite's environment"
    );
    for token in [
        "ghs_job_level_token",
        "ghs_gh_cli_token",
        "ghs_private_token",
    ] {
        assert!(!seen.contains(token), "{token} reached the suite: {seen}");
    }
    assert!(!seen.contains("AI_EVALS_GITHUB_TOKEN"), "{seen}");
}

/// A provider that must never be called.
async fn listener() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    server
}

#[test]
fn a_config_that_asks_for_a_github_token_as_its_key_is_refused() {
    let rt = Runtime::new().unwrap();
    let server = rt.block_on(listener());
    for var in [
        "GITHUB_TOKEN",
        "AI_EVALS_GITHUB_TOKEN",
        "GH_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "RUNNER_TEMP",
    ] {
        let suite = suite(&server.uri());
        cases(&suite, 0);
        let config = std::fs::read_to_string(suite.path("evals.toml")).unwrap();
        suite.write(
            "evals.toml",
            config.replace(
                "api-key-env = \"AI_EVALS_MOCK_KEY\"",
                &format!("api-key-env = \"{var}\""),
            ),
        );
        let (_, run) = paths_and_run(
            &suite,
            &[
                ("GITHUB_EVENT_NAME", "pull_request"),
                ("AI_EVALS_GITHUB_TOKEN", "ghs_private_token"),
                ("GH_TOKEN", "ghs_gh_cli_token"),
            ],
        );
        assert_eq!(outputs(&suite)["exit-code"], "2", "{var}: {run:?}");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains("providers.mock.api-key-env") && stderr.contains(var),
            "{var}: {stderr}"
        );
        assert!(
            stderr
                .lines()
                .filter(|l| !l.starts_with("::add-mask::"))
                .all(|l| !l.contains("ghs_")),
            "{stderr}"
        );
    }
    // The listener's expect(0) is checked when it drops.
    drop(server);
}

#[test]
fn on_pull_request_target_from_a_fork_the_suite_does_not_run() {
    let rt = Runtime::new().unwrap();
    let server = rt.block_on(listener());
    let suite = suite(&server.uri());
    cases(&suite, 0);
    let fork = [
        ("GITHUB_EVENT_NAME", "pull_request_target"),
        ("GITHUB_REPOSITORY", REPO),
        ("PR_HEAD_REPO", "attacker/Hello-World"),
        ("AI_EVALS_GITHUB_TOKEN", "ghs_write_token"),
    ];
    let check = step(&suite, "check", &fork);
    assert_eq!(check.status.code(), Some(2), "{check:?}");
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains("refusing to run the suite on pull_request_target"),
        "{stdout}"
    );
    let paths = step(&suite, "paths", &fork);
    assert_eq!(paths.status.code(), Some(2), "{paths:?}");
    let mut run_env = fork.to_vec();
    run_env.extend([
        ("DB_PATH", "ai-evals.duckdb"),
        ("CACHE_PATH", ".ai-evals-cache"),
    ]);
    let run = step(&suite, "run", &run_env);
    assert!(run.status.success());
    assert_eq!(outputs(&suite)["exit-code"], "2");
    assert!(!suite.path("ai-evals.duckdb").exists(), "nothing ran");

    // The same repository's own branch runs.
    let own = [
        ("GITHUB_EVENT_NAME", "pull_request_target"),
        ("GITHUB_REPOSITORY", REPO),
        ("PR_HEAD_REPO", REPO),
    ];
    assert!(step(&suite, "check", &own).status.success());
    drop(server);
}

/// `ai-evals history info` in `suite`'s folder, with `env`.
fn info(suite: &Suite, args: &[&str], env: &[(&str, &str)]) -> crate::support::Run {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["-q", "history", "info"])
        .args(args)
        .current_dir(suite.dir.path());
    crate::support::clean_env(&mut cmd);
    cmd.env("RUNNER_OS", "Linux").envs(env.iter().copied());
    crate::support::Run(cmd.output().expect("run ai-evals"))
}

#[test]
fn history_info_is_json_and_checks_the_branch_with_gits_rules() {
    let suite = Suite::new(&crate::support::echo_config(
        "[cache]\ndir = \"responses\"\n\n[[tests]]\nvars = { q = \"x\" }\n",
    ));
    let out_file = suite.path("github-output.txt");
    let run = info(
        &suite,
        &["--config", "evals.toml", "--id", "gpt-4o"],
        &[
            ("AI_EVALS_DB", "custom.duckdb"),
            ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_REF_NAME", "main"),
        ],
    );
    run.expect_code(0);
    let json: Value = serde_json::from_str(&run.stdout()).expect("JSON on stdout");
    assert_eq!(json["baseline_branch"], "main");
    assert_eq!(json["db"], "custom.duckdb");
    assert_eq!(
        json["workspace_cache_dir"], "responses",
        "the config's [cache] dir"
    );
    assert_eq!(json["save_history"], true);
    let prefix = json["history_key_prefix"].as_str().unwrap();
    assert!(prefix.starts_with("ai-evals-history;duckdb-"), "{prefix}");
    assert!(prefix.contains(";Linux;evals.toml."), "{prefix}");
    assert!(prefix.ends_with(";gpt-4o;"), "{prefix}");
    let outputs = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        outputs.contains(&format!("history-key-prefix={prefix}\n")),
        "{outputs}"
    );
    assert!(outputs.contains("cache-path=responses\n"), "{outputs}");
    assert!(outputs.contains("db-path=custom.duckdb\n"), "{outputs}");

    // A base branch with a line break, from the event: refused, escaped.
    let payload = json!({"pull_request": {"number": 1, "base": {"ref": "main\n::error::spoofed", "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"}}});
    suite.write("event.json", payload.to_string());
    let event_path = suite.path("event.json");
    let refused = info(
        &suite,
        &[],
        &[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event_path.to_str().unwrap()),
        ],
    );
    refused.expect_code(2);
    let stderr = refused.stderr();
    assert!(stderr.contains("is not a valid branch name"), "{stderr}");
    assert!(
        !stderr.lines().any(|l| l.starts_with("::error::spoofed")),
        "{stderr}"
    );
    for bad in ["a b", "x..y", "-x", "main.lock"] {
        info(&suite, &["--baseline-branch", bad], &[]).expect_code(2);
    }

    // A merge queue's run: main's baseline, and nothing saved.
    let group = event("merge_group_checks_requested.payload.json");
    let queued = info(
        &suite,
        &[],
        &[
            ("GITHUB_EVENT_NAME", "merge_group"),
            ("GITHUB_EVENT_PATH", group.to_str().unwrap()),
            ("GITHUB_REF_TYPE", "branch"),
            (
                "GITHUB_REF_NAME",
                "gh-readonly-queue/main/pr-2-f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
            ),
        ],
    );
    queued.expect_code(0);
    let json: Value = serde_json::from_str(&queued.stdout()).unwrap();
    assert_eq!(json["baseline_branch"], "main");
    assert_eq!(json["save_history"], false);
    assert_eq!(json["save_responses"], false);
}
