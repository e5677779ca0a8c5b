#!/usr/bin/env bash
# Puts the ai-evals binary on PATH for the rest of the job (the Action's
# first steps).
#
#   install.sh download   Download the release asset for this runner and
#                         check it against the SHA-256 committed in the
#                         action at release time (action/checksums/vX.sha256).
#                         With version "source", set the step output
#                         build=true instead. Nothing else builds: no
#                         checksum committed for the version and runner, no
#                         asset built for the runner, an asset that is absent
#                         (404) or any other download failure fails the step
#                         and says what to do.
#   install.sh build      Build the binary from the action's own source
#                         (cargo build --release --locked).
#
# Environment (set by action.yml from its inputs and the github context):
#   INPUT_VERSION       empty (the version in the action's Cargo.toml), a
#                       release tag (v1.2.3 or 1.2.3), or source
#   ACTION_REPOSITORY   owner/repo of the action (github.action_repository;
#                       GITHUB_ACTION_REPOSITORY is empty in composite actions)
#   ACTION_PATH         the action's checkout (github.action_path)
#   AI_EVALS_RELEASE_URL  optional: a base URL holding download/TAG/ASSET,
#                       instead of the repository's GitHub releases (a
#                       mirror; the tests use file://)
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
  local version binary="$bin_dir/ai-evals"
  if [ -f "$bin_dir/ai-evals.exe" ]; then binary="$bin_dir/ai-evals.exe"; fi
  version="$("$binary" --version 2>&1 | head -n 1)" ||
    fail "the installed binary does not run: $bin_dir/ai-evals"
  if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n' "$bin_dir" >>"$GITHUB_PATH"
  fi
  say "installed $version in $bin_dir"
}

# From standard input: GNU sha256sum starts its line with a backslash
# when the file name holds one (D:\a\_temp\... on Windows).
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum <"$1" | awk '{print $1}'
  else
    shasum -a 256 <"$1" | awk '{print $1}'
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
    Windows/X64 | MINGW*/x86_64 | MSYS*/x86_64) echo x86_64-pc-windows-msvc ;;
    *) echo "" ;;
  esac
}

# Asks for a build from source (version: source).
need_build() {
  say "version is source: building ai-evals from the action's source (cargo build --release --locked; the first build takes 15 to 25 minutes, later ones restore the cache)"
  output build true
  if [ -f "$action_path/Cargo.lock" ]; then
    output lock-hash "$(sha256 "$action_path/Cargo.lock")"
  else
    output lock-hash none
  fi
  exit 0
}

# What to do when there is no release asset to install.
no_asset() {
  fail "$1. Use a release of the action (uses: OWNER/ai-evals-action@vX.Y.Z, or its commit), or set version: source to build the action's own source with cargo"
}

# The version in the action's own Cargo.toml: what this ref of the action
# was released as, so a user pinned to @v1.2.0 or a commit gets that.
own_version() {
  sed -n '/^\[package\]/,/^\[/ s/^version *= *"\([^"]*\)".*/\1/p' "$action_path/Cargo.toml" 2>/dev/null | head -n 1
}

# The SHA-256 of ASSET of release TAG committed in the action, if any.
committed_sha256() {
  local file="$action_path/action/checksums/$1.sha256"
  [ -f "$file" ] || return 0
  awk -v asset="$2" '$2 == asset || $2 == "*" asset {print tolower($1); exit}' "$file"
}

download() {
  local version="${INPUT_VERSION:-}" target base asset root tmp expected actual status=0
  case "$version" in
    source) need_build ;;
    latest) fail "version: latest is not supported: the binary must be the one this action ref was released with. Leave version empty (the action's own release), or pin a tag like v1.2.3" ;;
    '') version="$(own_version)" ;;
  esac
  [[ "$version" =~ ^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
    fail "version must be empty, source or a release tag like v1.2.3 (got: ${version:-no version in Cargo.toml of the action})"
  version="v${version#v}"
  target="$(target_triple)"
  [ -n "$target" ] || no_asset "no release asset is built for ${RUNNER_OS:-this OS} on ${RUNNER_ARCH:-this architecture}"
  asset="ai-evals-$target.tar.gz"
  expected="$(committed_sha256 "$version" "$asset")"
  [[ "$expected" =~ ^[0-9a-f]{64}$ ]] ||
    no_asset "this action has no SHA-256 of $asset $version (action/checksums/$version.sha256): it is not a release commit, or that release did not build for this runner"
  if [ -n "${AI_EVALS_RELEASE_URL:-}" ]; then
    base="${AI_EVALS_RELEASE_URL%/}/download/$version"
  elif [ -n "$repo" ]; then
    base="https://github.com/$repo/releases/download/$version"
  else
    no_asset "the action's repository is unknown (a local action, uses: ./)"
  fi
  # The download and the binary sit side by side under one folder, and the
  # archive is opened by a relative name from inside bin/: GNU tar (Git
  # Bash on Windows) reads "D:" in an archive path like D:\a\_temp\x.tar.gz
  # as a remote host, and bsdtar (macOS) has no --force-local.
  root="${bin_dir%/bin}"
  mkdir -p "$root"
  tmp="$(mktemp -d "$root/download.XXXXXX")"
  say "downloading $base/$asset"
  fetch "$base/$asset" "$tmp/$asset" || status=$?
  case "$status" in
    0) ;;
    4) fail "$asset is not in release $version ($base answered 404), though this action has its checksum: the release is not published (yet), or the asset was deleted. Re-run the job once the release is published, or set version: source" ;;
    *) fail "cannot download $base/$asset (see curl's message above). Re-run the job" ;;
  esac
  actual="$(sha256 "$tmp/$asset" | tr 'A-F' 'a-f')"
  if [ "$actual" != "$expected" ]; then
    fail "SHA-256 mismatch for $asset $version: the action's checksum is $expected, the download's $actual; refusing to install it"
  fi
  say "SHA-256 verified against action/checksums/$version.sha256: $actual"
  rm -rf "$bin_dir"
  mkdir -p "$bin_dir"
  (cd "$bin_dir" && tar -xzf "../${tmp##*/}/$asset") || fail "cannot unpack $asset"
  rm -rf "$tmp"
  [ -f "$bin_dir/ai-evals" ] || [ -f "$bin_dir/ai-evals.exe" ] || fail "$asset holds no ai-evals binary at its root"
  chmod +x "$bin_dir/ai-evals"* 2>/dev/null || true
  activate
  output build false
}

# fetch URL FILE: 0 when downloaded, 4 when the file is not there (HTTP 404,
# or a missing file:// file), 1 on any other failure (curl says why on
# stderr, its lines start with "curl:").
fetch() {
  local code status=0
  code="$(curl --silent --show-error --location --retry 3 --retry-delay 2 \
    --connect-timeout 20 --max-time 900 --write-out '%{http_code}' --output "$2" "$1")" || status=$?
  case "$1" in
    file://*)
      case "$status" in 0) return 0 ;; 37) return 4 ;; *) return 1 ;; esac
      ;;
  esac
  [ "$status" -eq 0 ] || return 1
  case "$code" in
    2??) return 0 ;;
    404) return 4 ;;
    *)
      say "the download answered HTTP $code"
      return 1
      ;;
  esac
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
