#!/usr/bin/env bash
# The Action's steps around the binary. Inputs arrive only as environment
# variables (action.yml passes each input through `env:`), never spliced
# into a script.
#
#   run.sh check    Check the inputs before anything is installed.
#   run.sh paths    `ai-evals history info` writes what the cache steps use
#                   (db-path, cache-path, history-key-prefix,
#                   responses-key-prefix, save-history, save-responses,
#                   baseline-branch) as step outputs itself, so no value is
#                   read back here; this adds report-dir, history-artifact
#                   and report-artifact.
#   run.sh run      Fetch the baseline branch's history artifact when no
#                   history was restored, then run `ai-evals run`; keep its
#                   exit code in the output exit-code (the step succeeds, so
#                   the caches and artifacts are saved before the job fails).
#   run.sh report   `ai-evals report --from-json` for another run's
#                   report.json (the fork-safe comment job).
#   run.sh gc       Delete the cache entries this run's saves superseded.
#   run.sh exit     Exit with EXIT_CODE, explaining a non-zero one.
#
# Environment: INPUT_CONFIG, INPUT_DB_PATH, INPUT_CACHE_PATH, INPUT_FAIL_ON,
# INPUT_COMMENT, INPUT_ID, INPUT_SHARD, INPUT_BASELINE_BRANCH,
# INPUT_WORKING_DIRECTORY, INPUT_ARGS, INPUT_REPORT_JSON, INPUT_INSTALL_ONLY,
# INPUT_CACHE, INPUT_RETENTION_DAYS; PR_HEAD_REPO (the pull request's head
# repository, owner/name); DB_PATH, CACHE_PATH, BASELINE_BRANCH and
# HISTORY_ARTIFACT (from paths) for run; HISTORY_KEY_PREFIX,
# RESPONSES_KEY_PREFIX and SAVE_HISTORY for gc; AI_EVALS_GITHUB_TOKEN (the
# github-token input, under a name only ai-evals reads: GITHUB_TOKEN is
# never in the suite's environment); and the runner's own variables.
#
# Every line this prints starts with "ai-evals action:" or is a workflow
# command built here; the input text never starts a line.
set -euo pipefail

# One line: a CR or LF in the text would start a line with it.
say() {
  local text="$*"
  text="${text//$'\r'/\\r}"
  printf 'ai-evals action: %s\n' "${text//$'\n'/\\n}"
}
escape() {
  local text="$1"
  text="${text//'%'/%25}"
  text="${text//$'\r'/%0D}"
  text="${text//$'\n'/%0A}"
  printf '%s' "$text"
}
error() { printf '::error title=ai-evals action::%s\n' "$(escape "$*")"; }
notice() { printf '::notice title=ai-evals::%s\n' "$(escape "$*")"; }
output() {
  # name value: a single line, or the heredoc form for several.
  local name="$1" value="$2" delimiter="AI_EVALS_ACTION_EOF"
  if [[ "$value" == *$'\n'* ]]; then
    while [[ "$value" == *"$delimiter"* ]]; do delimiter="${delimiter}_"; done
    printf '%s<<%s\n%s\n%s\n' "$name" "$delimiter" "$value" "$delimiter" >>"${GITHUB_OUTPUT:-/dev/null}"
  else
    printf '%s=%s\n' "$name" "$value" >>"${GITHUB_OUTPUT:-/dev/null}"
  fi
}

config="${INPUT_CONFIG:-evals.toml}"
# Empty: the binary resolves them (AI_EVALS_DB, the config's [cache] dir).
db="${INPUT_DB_PATH:-}"
cache_dir="${INPUT_CACHE_PATH:-}"
fail_on="${INPUT_FAIL_ON:-}"
comment="${INPUT_COMMENT:-true}"
id="${INPUT_ID:-}"
shard="${INPUT_SHARD:-}"
baseline_input="${INPUT_BASELINE_BRANCH:-}"
workdir="${INPUT_WORKING_DIRECTORY:-.}"
report_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ai-evals-report${id:+-$id}"
# Composite steps start in the workspace; the paths from `history info`
# are relative to it.
workspace="${GITHUB_WORKSPACE:-$PWD}"

# A token under any of these names would be in the suite's environment;
# the binary gets the Action's under AI_EVALS_GITHUB_TOKEN instead.
unset GITHUB_TOKEN GH_TOKEN ACTIONS_ID_TOKEN_REQUEST_TOKEN ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_RUNTIME_TOKEN

# Returns non-zero, after an ::error line, when an input is malformed.
check_inputs() {
  local ok=0
  case "$fail_on" in
    '' | critical | major | minor | never) ;;
    *) error "fail-on must be critical, major, minor or never, or empty for the config's (got: $fail_on)"; ok=1 ;;
  esac
  case "$comment" in
    true | True | TRUE | false | False | FALSE) ;;
    *) error "comment must be true or false (got: $comment)"; ok=1 ;;
  esac
  case "${INPUT_INSTALL_ONLY:-false}" in
    true | false) ;;
    *) error "install-only must be true or false (got: ${INPUT_INSTALL_ONLY:-})"; ok=1 ;;
  esac
  # The id goes into the comment's hidden marker, which `-->` would end.
  if [[ ! "$id" =~ ^[A-Za-z0-9._-]{0,64}$ ]]; then
    error "id must be at most 64 letters, digits, '.', '_' or '-' (got: $id)"; ok=1
  fi
  if [ -n "$shard" ]; then
    if [[ ! "$shard" =~ ^([0-9]+)/([0-9]+)$ ]] ||
      [ "${BASH_REMATCH[1]}" -lt 1 ] || [ "${BASH_REMATCH[1]}" -gt "${BASH_REMATCH[2]}" ]; then
      error "shard must be i/n with 1 <= i <= n, like 2/8 (got: $shard)"; ok=1
    fi
  fi
  if [ -n "${INPUT_REPORT_JSON:-}" ] && [ -n "$shard" ]; then
    error "report-json posts another run's report; it does not go with shard"; ok=1
  fi
  case "${INPUT_CACHE:-true}" in
    true | false) ;;
    *) error "cache must be true or false (got: ${INPUT_CACHE:-})"; ok=1 ;;
  esac
  if [[ ! "${INPUT_RETENTION_DAYS:-}" =~ ^([1-9]|[1-8][0-9]|90)?$ ]]; then
    error "retention-days must be empty (the repository's setting) or 1 to 90 (got: ${INPUT_RETENTION_DAYS:-})"; ok=1
  fi
  # A path with a line break would start a new line in the outputs and
  # the logs.
  local name value
  for name in config db-path cache-path working-directory report-json; do
    case "$name" in
      config) value="$config" ;;
      db-path) value="$db" ;;
      cache-path) value="$cache_dir" ;;
      working-directory) value="$workdir" ;;
      report-json) value="${INPUT_REPORT_JSON:-}" ;;
    esac
    if [[ "$value" == *$'\n'* || "$value" == *$'\r'* ]]; then
      error "$name must be one line: it holds a line break"; ok=1
    fi
  done
  fork_target || ok=1
  return "$ok"
}

# On pull_request_target the job holds a write token and the secrets, and
# a fork's code must not run there: only posting another run's report
# (report-json) and install-only are allowed.
fork_target() {
  [ "${GITHUB_EVENT_NAME:-}" = pull_request_target ] || return 0
  [ -z "${INPUT_REPORT_JSON:-}" ] || return 0
  [ "${INPUT_INSTALL_ONLY:-false}" != true ] || return 0
  if [ -z "${PR_HEAD_REPO:-}" ] || [ "${PR_HEAD_REPO:-}" != "${GITHUB_REPOSITORY:-}" ]; then
    error "refusing to run the suite on pull_request_target for a pull request from another repository (${PR_HEAD_REPO:-unknown}): that job holds a write token and the secrets, and the suite would be the fork's. Run the evals on pull_request and comment from workflow_run (examples/workflows/fork-safe-evals.yml and fork-safe-comment.yml)"
    return 1
  fi
}

# Characters an artifact name may hold.
slug() { printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '-'; }

# A path from `history info` (relative to the workspace) as a path here.
from_workspace() {
  case "$1" in
    /* | [A-Za-z]:*) printf '%s' "$1" ;;
    *) printf '%s/%s' "${workspace%/}" "$1" ;;
  esac
}

paths() {
  check_inputs || exit 2
  command -v ai-evals >/dev/null 2>&1 || { error "ai-evals is not on PATH (the install step failed?)"; exit 3; }
  local flags=(--config "$config") shard_part=""
  if [ -n "$baseline_input" ]; then flags+=(--baseline-branch "$baseline_input"); fi
  if [ -n "$id" ]; then flags+=(--id "$id"); fi
  if [ -n "$shard" ]; then flags+=(--shard "$shard"); fi
  if [ -n "$db" ]; then flags+=(--db "$db"); fi
  if [ -n "$cache_dir" ]; then flags+=(--cache-dir "$cache_dir"); fi
  if ! cd "$workdir"; then
    error "working-directory does not exist: $workdir"
    exit 2
  fi
  # The binary resolves the paths, names the keys and decides what this
  # run saves, and writes them as this step's outputs (JSON on stdout).
  GITHUB_WORKSPACE="$workspace" ai-evals -q history info "${flags[@]}" >/dev/null ||
    { error "ai-evals history info failed (see its error above)"; exit 2; }
  [ -n "$shard" ] && shard_part="shard-${shard%/*}-of-${shard#*/}"
  output report-dir "$report_dir"
  output history-artifact "ai-evals-history-$(slug "$config")${id:+-$id}"
  output report-artifact "ai-evals-report-$(slug "${GITHUB_JOB:-job}")-$(slug "$config")${id:+-$id}${shard_part:+-$shard_part}"
}

# When no history was restored: the newest history artifact of the
# baseline branch; when there is none either, a pull request says how to
# record one.
fetch_history() {
  [ -z "$shard" ] && [ ! -f "$1" ] || return 0
  local branch="${BASELINE_BRANCH:-}"
  if [ -n "${AI_EVALS_GITHUB_TOKEN:-}" ] && [ -n "${GITHUB_REPOSITORY:-}" ] && [ -n "${HISTORY_ARTIFACT:-}" ]; then
    say "no history restored from the cache; looking for the artifact ${HISTORY_ARTIFACT}"
    ai-evals history fetch --name "$HISTORY_ARTIFACT" ${branch:+--branch "$branch"} -o "$1" ||
      say "could not fetch the history artifact (see above); going on without it"
  fi
  if [ ! -f "$1" ]; then
    case "${GITHUB_EVENT_NAME:-}" in
      pull_request | pull_request_target | merge_group)
        notice "No history of ${branch:-the baseline branch} was found (no cache entry, no artifact), so this run has no baseline to compare with. Record one: run this workflow on a push to ${branch:-the baseline branch} (the quickstart in docs/action.md does), or start it there once with workflow_dispatch. Fetching the artifact needs permissions: actions: read."
        ;;
    esac
  fi
}

run() {
  local status=0 extra=() db_file cache_folder
  if ! check_inputs; then
    output exit-code 2
    exit 0
  fi
  if [ -z "${DB_PATH:-}" ] || [ -z "${CACHE_PATH:-}" ]; then
    error "DB_PATH and CACHE_PATH come from the paths step (ai-evals history info), which did not run"
    output exit-code 3
    exit 0
  fi
  db_file="$(from_workspace "$DB_PATH")"
  cache_folder="$(from_workspace "$CACHE_PATH")"
  if ! cd "$workdir"; then
    error "working-directory does not exist: $workdir"
    output exit-code 2
    exit 0
  fi
  if ! command -v ai-evals >/dev/null 2>&1; then
    error "ai-evals is not on PATH (the install step failed?)"
    output exit-code 3
    exit 0
  fi
  fetch_history "$db_file"
  rm -rf "$report_dir"
  mkdir -p "$report_dir"
  local args=(run --config "$config" --db "$db_file" --cache-dir "$cache_folder" --report-dir "$report_dir")
  # Passed only when set: otherwise evals.toml's [compare] decides.
  if [ -n "$fail_on" ]; then args+=(--fail-on "$fail_on"); fi
  if [ -n "$baseline_input" ]; then args+=(--baseline-branch "$baseline_input"); fi
  if [ -n "$id" ]; then args+=(--comment-id "$id"); fi
  case "$comment" in
    false | False | FALSE)
      args+=(--no-comment)
      unset AI_EVALS_GITHUB_TOKEN
      ;;
  esac
  if [ -n "$shard" ]; then
    args+=(--shard "$shard")
  fi
  # Extra arguments: split on whitespace (spaces, tabs, newlines), no
  # quoting, no globbing, no expansion.
  if [ -n "${INPUT_ARGS:-}" ]; then
    read -r -d '' -a extra <<<"$INPUT_ARGS" || true
    # (An empty "${extra[@]}" is an unbound variable under set -u in bash 3.2.)
    if [ "${#extra[@]}" -gt 0 ]; then
      args+=("${extra[@]}")
    fi
  fi
  say "running: ai-evals ${args[*]}"
  ai-evals "${args[@]}" || status=$?
  # actions/cache/save refuses a path that does not exist, and a run that
  # looked nothing up leaves no cache folder.
  mkdir -p "$cache_folder" 2>/dev/null || true
  output exit-code "$status"
  say "ai-evals exited with $status"
  if [ -f "$report_dir/report.html" ]; then
    say "the report page, every case side by side: report.html in this run's report artifact"
  fi
}

report() {
  local status=0 args=(report --from-json "$INPUT_REPORT_JSON")
  check_inputs || { output exit-code 2; exit 0; }
  if [ -n "$id" ]; then args+=(--comment-id "$id"); fi
  case "$comment" in false | False | FALSE) args+=(--no-comment) ;; esac
  ai-evals "${args[@]}" || status=$?
  # A failed gate is the pull request's own run's verdict, on its own
  # check already; this job only comments.
  if [ "$status" -eq 1 ]; then status=0; fi
  output exit-code "$status"
  say "ai-evals report exited with $status"
}

gc() {
  local prefixes=()
  if [ -n "${RESPONSES_KEY_PREFIX:-}" ]; then prefixes+=("$RESPONSES_KEY_PREFIX"); fi
  if [ "${SAVE_HISTORY:-false}" = true ] && [ -n "${HISTORY_KEY_PREFIX:-}" ]; then prefixes+=("$HISTORY_KEY_PREFIX"); fi
  for prefix in ${prefixes[@]+"${prefixes[@]}"}; do
    ai-evals -q cache gc --key-prefix "$prefix" --keep 1 ||
      say "could not delete the cache entries under $prefix that this run superseded (the job needs permissions: actions: write); they expire after 7 days unused"
  done
}

finish() {
  local code="${EXIT_CODE:-3}"
  case "$code" in
    0) say "the suite passed its gates" ;;
    1) say "a gate failed: the pass rate is below suite.min-pass-rate, or a regression is at or above fail-on (${fail_on:-[compare] fail-on of the config, else critical})" ;;
    2) say "bad usage, config, dataset, database or baseline (exit code 2): see the run step's errors" ;;
    3) say "a failure while running (exit code 3): see the run step's errors" ;;
    *) say "exit code $code" ;;
  esac
  [[ "$code" =~ ^[0-9]+$ ]] || code=3
  exit "$code"
}

case "${1:-}" in
  check) check_inputs || exit 2 ;;
  paths) paths ;;
  run) run ;;
  report) report ;;
  gc) gc ;;
  exit) finish ;;
  *)
    printf 'usage: run.sh check|paths|run|report|gc|exit\n' >&2
    exit 2
    ;;
esac
