#!/usr/bin/env bash
# Puts the ai-evals binary on PATH for the rest of the job (the Action's
# first steps).
#
#   install.sh download   Download the release asset for this runner and
#                         check its SHA-256. When there is no asset for this
#                         runner or this version (or version is "source"),
#                         set the step output build=true instead.
#   install.sh build      Build the binary from the action's own source
#                         (cargo build --release --locked).
#
# Environment (set by action.yml from its inputs and the github context):
#   INPUT_VERSION       latest | source | a release tag (v1.2.3 or 1.2.3)
#   ACTION_REPOSITORY   owner/repo of the action (github.action_repository;
#                       GITHUB_ACTION_REPOSITORY is empty in composite actions)
#   ACTION_PATH         the action's checkout (github.action_path)
#   AI_EVALS_RELEASE_URL  optional: a base URL holding latest/download/ASSET
#                       and download/TAG/ASSET, instead of the repository's
#                       GitHub releases (a mirror; the tests use file://)
#
# Every line this prints starts with "ai-evals install:" or is a workflow
# command built here, so no downloaded text reaches the start of a line.
set -euo pipefail

# One line: a CR or LF in the text would start a line with it.
say() {
  local text="$*"
  text="${text//$'\r'/\\r}"
  printf 'ai-evals install: %s\n' "${text//$'\n'/\\n}"
}
# A workflow command's message: %, CR and LF encoded.
escape() {
  local text="$1"
  text="${text//'%'/%25}"
  text="${text//$'\r'/%0D}"
  text="${text//$'\n'/%0A}"
  printf '%s' "$text"
}
warn() { printf '::warning title=ai-evals install::%s\n' "$(escape "$*")"; }
fail() {
  printf '::error title=ai-evals install::%s\n' "$(escape "$*")"
  exit 1
}
output() { printf '%s=%s\n' "$1" "$2" >>"${GITHUB_OUTPUT:-/dev/null}"; }

action_path="${ACTION_PATH:-${GITHUB_ACTION_PATH:-}}"
repo="${ACTION_REPOSITORY:-${GITHUB_ACTION_REPOSITORY:-}}"
bin_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ai-evals/bin"

# Adds bin_dir to PATH for the later steps and checks the binary runs.
activate() {
  local version
  version="$("$bin_dir/ai-evals" --version 2>&1 | head -n 1)" ||
    fail "the installed binary does not run: $bin_dir/ai-evals"
  if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n' "$bin_dir" >>"$GITHUB_PATH"
  fi
  say "installed $version in $bin_dir"
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  else
    shasum -a 256 "$1" | awk '{print $1}'
  fi
}

# The Rust target triple of this runner, or nothing when no asset is built
# for it.
target_triple() {
  local os="${RUNNER_OS:-$(uname -s)}" arch="${RUNNER_ARCH:-$(uname -m)}"
  case "$os/$arch" in
    Linux/X64 | Linux/x86_64) echo x86_64-unknown-linux-gnu ;;
    Linux/ARM64 | Linux/aarch64 | Linux/arm64) echo aarch64-unknown-linux-gnu ;;
    macOS/X64 | Darwin/x86_64) echo x86_64-apple-darwin ;;
    macOS/ARM64 | Darwin/arm64 | Darwin/aarch64) echo aarch64-apple-darwin ;;
    *) echo "" ;;
  esac
}

# Asks for a build from source, with the reason as a warning.
need_build() {
  warn "$1; building ai-evals from the action's source instead (cargo build --release --locked; the first build takes 15 to 25 minutes, later ones restore the cache)"
  output build true
  if [ -f "$action_path/Cargo.lock" ]; then
    output lock-hash "$(sha256 "$action_path/Cargo.lock")"
  else
    output lock-hash none
  fi
  exit 0
}

download() {
  local version="${INPUT_VERSION:-latest}" target base asset tmp expected actual
  if [ "$version" = source ]; then
    need_build "version is source"
  fi
  target="$(target_triple)"
  if [ -z "$target" ]; then
    need_build "no release asset is built for ${RUNNER_OS:-this OS} on ${RUNNER_ARCH:-this architecture}"
  fi
  if [ -n "${AI_EVALS_RELEASE_URL:-}" ]; then
    base="${AI_EVALS_RELEASE_URL%/}"
  elif [ -n "$repo" ]; then
    base="https://github.com/$repo/releases"
  else
    need_build "the action's repository is unknown (a local action, uses: ./)"
  fi
  if [ "$version" = latest ]; then
    base="$base/latest/download"
  elif [[ "$version" =~ ^v?[0-9]+(\.[0-9]+)*([-+][0-9A-Za-z.-]+)?$ ]]; then
    base="$base/download/v${version#v}"
  else
    fail "version must be latest, source or a release tag like v1.2.3 (got: $version)"
  fi
  asset="ai-evals-$target.tar.gz"
  tmp="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ai-evals-download.XXXXXX")"
  say "downloading $base/$asset"
  if ! fetch "$base/$asset" "$tmp/$asset" ||
    ! fetch "$base/$asset.sha256" "$tmp/$asset.sha256"; then
    need_build "cannot download $asset and its .sha256 from $base"
  fi
  expected="$(awk 'NR == 1 {print tolower($1)}' "$tmp/$asset.sha256")"
  [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "$asset.sha256 holds no SHA-256"
  actual="$(sha256 "$tmp/$asset" | tr 'A-F' 'a-f')"
  if [ "$actual" != "$expected" ]; then
    fail "SHA-256 mismatch for $asset: expected $expected, got $actual; refusing to install it"
  fi
  say "SHA-256 verified: $actual"
  rm -rf "$bin_dir"
  mkdir -p "$bin_dir"
  tar -xzf "$tmp/$asset" -C "$bin_dir"
  rm -rf "$tmp"
  [ -f "$bin_dir/ai-evals" ] || fail "$asset holds no ai-evals binary at its root"
  chmod +x "$bin_dir/ai-evals"
  activate
  output build false
}

# fetch URL FILE: 0 when downloaded, non-zero otherwise (curl says why on
# stderr, its lines start with "curl:").
fetch() {
  curl --fail --silent --show-error --location --retry 3 --retry-delay 2 \
    --connect-timeout 20 --output "$2" "$1"
}

build() {
  [ -f "$action_path/Cargo.toml" ] || fail "the action's source is not at ${action_path:-(unknown path)}"
  command -v cargo >/dev/null 2>&1 || fail "no cargo on this runner: install a Rust toolchain first (rustup), or use a runner with a release asset"
  # The same folder action.yml caches.
  export CARGO_TARGET_DIR="$HOME/.cache/ai-evals-build/target"
  say "building with $(cargo --version) into $CARGO_TARGET_DIR"
  cargo build --release --locked --bin ai-evals --manifest-path "$action_path/Cargo.toml"
  mkdir -p "$bin_dir"
  if [ -f "$CARGO_TARGET_DIR/release/ai-evals.exe" ]; then
    cp "$CARGO_TARGET_DIR/release/ai-evals.exe" "$bin_dir/ai-evals.exe"
  else
    cp "$CARGO_TARGET_DIR/release/ai-evals" "$bin_dir/ai-evals"
  fi
  activate
}

case "${1:-download}" in
  download) download ;;
  build) build ;;
  *)
    printf 'usage: install.sh download|build\n' >&2
    exit 2
    ;;
esac
