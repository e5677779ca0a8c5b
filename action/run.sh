#!/usr/bin/env bash
# The Action's steps around the binary. Inputs arrive only as environment
# variables (action.yml passes each input through `env:`), never spliced
# into a script.
#
#   run.sh check    Check the inputs before anything is installed.
#   run.sh paths    Name what the cache and artifact steps use (db-path,
#                   cache-path, report-dir, history-key-prefix,
#                   responses-key-prefix, history-artifact, report-artifact)
#                   and decide what this run saves (save-history,
#                   save-responses), with the baseline branch as
#                   `ai-evals history info` resolves it.
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
# INPUT_WORKING_DIRECTORY, INPUT_ARGS, INPUT_REPORT_JSON, INPUT_INSTALL_ONLY;
# BASELINE_BRANCH and HISTORY_ARTIFACT (from paths) for run;
# HISTORY_KEY_PREFIX, RESPONSES_KEY_PREFIX and SAVE_HISTORY for gc;
# GITHUB_TOKEN; and the runner's own variables.
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
db="${INPUT_DB_PATH:-ai-evals.duckdb}"
cache_dir="${INPUT_CACHE_PATH:-.ai-evals-cache}"
fail_on="${INPUT_FAIL_ON:-}"
comment="${INPUT_COMMENT:-true}"
id="${INPUT_ID:-}"
shard="${INPUT_SHARD:-}"
baseline_input="${INPUT_BASELINE_BRANCH:-}"
workdir="${INPUT_WORKING_DIRECTORY:-.}"
report_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ai-evals-report${id:+-$id}"

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
  return "$ok"
}

# A path as actions/cache and upload-artifact see it: relative to the
# workspace, so working-directory is put in front of a relative one.
from_workspace() {
  case "$1" in
    /*) printf '%s' "$1" ;;
    *)
      case "$workdir" in
        '' | . | ./) printf '%s' "$1" ;;
        *) printf '%s/%s' "${workdir%/}" "$1" ;;
      esac
      ;;
  esac
}

# Characters an artifact name may hold.
slug() { printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '-'; }

# key=value lines of `ai-evals history info`: the baseline branch and the
# storage version. Without a readable config (the run step reports why),
# the branch is resolved without it.
history_info() {
  local flag=()
  if [ -n "$baseline_input" ]; then flag=(--baseline-branch "$baseline_input"); fi
  # (${flag[@]+...}: an empty array is an unbound variable in bash 3.2.)
  (cd "$workdir" 2>/dev/null && ai-evals -q history info --config "$config" ${flag[@]+"${flag[@]}"} 2>/dev/null) ||
    ai-evals -q history info ${flag[@]+"${flag[@]}"}
}

paths() {
  check_inputs || exit 2
  command -v ai-evals >/dev/null 2>&1 || { error "ai-evals is not on PATH (the install step failed?)"; exit 3; }
  local info branch storage shard_part="" event="${GITHUB_EVENT_NAME:-}" baseline_run=false
  info="$(history_info)" || { error "ai-evals history info failed"; exit 3; }
  branch="$(printf '%s\n' "$info" | sed -n 's/^baseline-branch=//p' | head -n 1)"
  storage="$(printf '%s\n' "$info" | sed -n 's/^storage-version=//p' | head -n 1)"
  [ -n "$shard" ] && shard_part="shard-${shard%/*}-of-${shard#*/}"
  case "$event" in
    push | workflow_dispatch | schedule)
      if [ "${GITHUB_REF_TYPE:-branch}" = branch ] && [ "${GITHUB_REF_NAME:-}" = "$branch" ]; then
        baseline_run=true
      fi
      ;;
  esac
  # Cache keys may not hold commas.
  local key_config="${RUNNER_OS:-$(uname -s)}-${config//,/_}${id:+-$id}"
  output db-path "$(from_workspace "$db")"
  output cache-path "$(from_workspace "$cache_dir")"
  output report-dir "$report_dir"
  output baseline-branch "$branch"
  # A shard's database starts empty each run (the merge job compares);
  # only its response cache is kept.
  if [ -z "$shard" ]; then
    output history-key-prefix "ai-evals-history-${storage}-${key_config}-"
  fi
  output responses-key-prefix "ai-evals-responses-${key_config}${shard_part:+-$shard_part}-"
  output history-artifact "ai-evals-history-$(slug "$config")${id:+-$id}"
  output report-artifact "ai-evals-report-$(slug "${GITHUB_JOB:-job}")-$(slug "$config")${id:+-$id}${shard_part:+-$shard_part}"
  output save-history "$([ "$baseline_run" = true ] && [ -z "$shard" ] && echo true || echo false)"
  # A pull request's entries are scoped to it: its next push reuses them.
  case "$event" in
    pull_request | pull_request_target) output save-responses true ;;
    *) output save-responses "$baseline_run" ;;
  esac
  say "baseline branch: $branch; history storage: $storage"
}

# When no history was restored: the newest history artifact of the
# baseline branch; when there is none either, a pull request says how to
# record one.
fetch_history() {
  [ -z "$shard" ] && [ ! -f "$db" ] || return 0
  local branch="${BASELINE_BRANCH:-}"
  if [ -n "${GITHUB_TOKEN:-}" ] && [ -n "${GITHUB_REPOSITORY:-}" ] && [ -n "${HISTORY_ARTIFACT:-}" ]; then
    say "no history restored from the cache; looking for the artifact ${HISTORY_ARTIFACT}"
    ai-evals history fetch --name "$HISTORY_ARTIFACT" ${branch:+--branch "$branch"} -o "$db" ||
      say "could not fetch the history artifact (see above); going on without it"
  fi
  if [ ! -f "$db" ]; then
    case "${GITHUB_EVENT_NAME:-}" in
      pull_request | pull_request_target)
        notice "No history of ${branch:-the baseline branch} was found (no cache entry, no artifact), so this pull request has no baseline to compare with. Record one: run this workflow on a push to ${branch:-the baseline branch} (the quickstart in the README does), or start it there once with workflow_dispatch. Fetching the artifact needs permissions: actions: read."
        ;;
    esac
  fi
}

run() {
  local status=0 extra=()
  if ! check_inputs; then
    output exit-code 2
    exit 0
  fi
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
  fetch_history
  rm -rf "$report_dir"
  mkdir -p "$report_dir"
  local args=(run --config "$config" --db "$db" --cache-dir "$cache_dir" --report-dir "$report_dir")
  # Passed only when set: otherwise evals.toml's [compare] decides.
  if [ -n "$fail_on" ]; then args+=(--fail-on "$fail_on"); fi
  if [ -n "$baseline_input" ]; then args+=(--baseline-branch "$baseline_input"); fi
  if [ -n "$id" ]; then args+=(--comment-id "$id"); fi
  case "$comment" in
    false | False | FALSE)
      args+=(--no-comment)
      unset GITHUB_TOKEN
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
  mkdir -p "$cache_dir" 2>/dev/null || true
  output exit-code "$status"
  say "ai-evals exited with $status"
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
  local prefixes=("$RESPONSES_KEY_PREFIX")
  if [ "${SAVE_HISTORY:-false}" = true ]; then prefixes+=("$HISTORY_KEY_PREFIX"); fi
  for prefix in "${prefixes[@]}"; do
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
