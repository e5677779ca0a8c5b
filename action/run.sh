#!/usr/bin/env bash
# Runs the suite for the Action. Inputs arrive only as environment variables
# (action.yml passes each input through `env:`), never spliced into a script.
#
#   run.sh paths   Check the inputs; set the outputs the cache and artifact
#                  steps use (cache-paths, key-prefix, db-path, report-dir,
#                  report-artifact, history-artifact).
#   run.sh run     Run `ai-evals run`; keep its exit code in the output
#                  exit-code (the step itself succeeds, so the caches and
#                  artifacts are saved before the job fails).
#   run.sh exit    Exit with EXIT_CODE, explaining a non-zero one.
#
# Environment: INPUT_CONFIG, INPUT_DB_PATH, INPUT_CACHE_PATH, INPUT_FAIL_ON,
# INPUT_COMMENT, INPUT_SHARD, INPUT_BASELINE_BRANCH, INPUT_WORKING_DIRECTORY,
# INPUT_ARGS, GITHUB_TOKEN (for the comment), and the runner's own
# variables.
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
fail_on="${INPUT_FAIL_ON:-critical}"
comment="${INPUT_COMMENT:-true}"
shard="${INPUT_SHARD:-}"
baseline_branch="${INPUT_BASELINE_BRANCH:-}"
workdir="${INPUT_WORKING_DIRECTORY:-.}"
report_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ai-evals-report"

# Returns non-zero, after an ::error line, when an input is malformed.
check_inputs() {
  local ok=0
  case "$fail_on" in
    critical | major | minor | never) ;;
    *) error "fail-on must be critical, major, minor or never (got: $fail_on)"; ok=1 ;;
  esac
  case "$comment" in
    true | True | TRUE | false | False | FALSE) ;;
    *) error "comment must be true or false (got: $comment)"; ok=1 ;;
  esac
  if [ -n "$shard" ]; then
    if [[ ! "$shard" =~ ^([0-9]+)/([0-9]+)$ ]] ||
      [ "${BASH_REMATCH[1]}" -lt 1 ] || [ "${BASH_REMATCH[1]}" -gt "${BASH_REMATCH[2]}" ]; then
      error "shard must be i/n with 1 <= i <= n, like 2/8 (got: $shard)"; ok=1
    fi
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

paths() {
  check_inputs || exit 2
  local shard_part="" paths
  if [ -n "$shard" ]; then
    shard_part="shard-${shard%/*}-of-${shard#*/}"
    # A shard's database starts empty each run (the merge job compares);
    # only its response cache is kept.
    paths="$(from_workspace "$cache_dir")"
  else
    paths="$(from_workspace "$cache_dir")"$'\n'"$(from_workspace "$db")"
  fi
  output cache-paths "$paths"
  # Cache keys may not hold commas.
  output key-prefix "ai-evals-${RUNNER_OS:-$(uname -s)}-${config//,/_}-${shard_part:+$shard_part-}"
  output db-path "$(from_workspace "$db")"
  output report-dir "$report_dir"
  output report-artifact "ai-evals-report-$(slug "${GITHUB_JOB:-job}")-$(slug "$config")${shard_part:+-$shard_part}"
  output history-artifact "ai-evals-history-$(slug "$config")"
  say "cache paths: ${paths//$'\n'/, }"
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
  rm -rf "$report_dir"
  mkdir -p "$report_dir"
  local args=(run --config "$config" --db "$db" --cache-dir "$cache_dir"
    --fail-on "$fail_on" --report-dir "$report_dir")
  case "$comment" in
    false | False | FALSE)
      args+=(--no-comment)
      unset GITHUB_TOKEN
      ;;
  esac
  if [ -n "$shard" ]; then
    args+=(--shard "$shard")
  fi
  if [ -n "$baseline_branch" ]; then
    args+=(--baseline-branch "$baseline_branch")
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

finish() {
  local code="${EXIT_CODE:-3}"
  case "$code" in
    0) say "the suite passed its gates" ;;
    1) say "a gate failed: the pass rate is below suite.min-pass-rate, or a regression is at or above fail-on ($fail_on)" ;;
    2) say "bad usage, config, dataset, database or baseline (exit code 2): see the run step's errors" ;;
    3) say "a failure while running (exit code 3): see the run step's errors" ;;
    *) say "exit code $code" ;;
  esac
  [[ "$code" =~ ^[0-9]+$ ]] || code=3
  exit "$code"
}

case "${1:-}" in
  paths) paths ;;
  run) run ;;
  exit) finish ;;
  *)
    printf 'usage: run.sh paths|run|exit\n' >&2
    exit 2
    ;;
esac
