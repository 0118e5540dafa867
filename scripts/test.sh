#!/usr/bin/env bash
# Runs Plinth's whole test suite, installing first whatever the tests need.
# Usage: ./scripts/test.sh [cargo test's arguments, e.g. -p plinth-oci, or -- FILTER]
# CI runs this through .ci/run with CI=true: tests that need a missing tool then fail
# instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages: the real tools the tests check Plinth against, and the C toolchain
# for the example's static binary.
PACKAGES=(gcc g++ make libc6-dev libssl-dev openssl debian-archive-keyring
          skopeo umoci podman runc buildah
          golang-go python3-apt chromium fonts-dejavu-core
          rpm python3-packaging docker-registry apache2-utils
          createrepo-c gnupg uidmap mmdebstrap dpkg)
# (rpm and python3-packaging are the oracles of the rpm and PEP 440 version orderings;
# apk-tools is not in Debian 12, so apk ordering is checked against apk-tools' own test
# vectors in crates/plinth-vuln/src/version/apk_vectors.txt. docker-registry is the CNCF
# registry the push/pull tests run on 127.0.0.1; apache2-utils has `htpasswd -B` for its
# password file. rpm (rpmbuild, rpmsign), createrepo-c and gnupg generate the signed RPM
# repositories of the plinth-rpm tests. uidmap has newuidmap/newgidmap, which
# system images built without root need. mmdebstrap is the anchor the system images'
# package set is compared with; dpkg's dpkg-deb builds the test packages of their tests.)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The plinth-deb system tests verify the InRelease files of apt's own lists.
if ! ls /var/lib/apt/lists/*InRelease >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "apt-get update (the tests read apt's signed lists)"
  $SUDO apt-get update -q
fi

# The user the system_userns tests build as without root: it needs a range of
# subordinate uids and gids (Debian's packages own files as ids up to 65534).
if [ "$(id -u)" -eq 0 ]; then
  if ! id -u plinth-test >/dev/null 2>&1; then
    say "adding the user plinth-test (system builds without root)"
    useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin plinth-test
  fi
  grep -q '^plinth-test:' /etc/subuid 2>/dev/null ||
    usermod --add-subuids 200000-265535 plinth-test
  grep -q '^plinth-test:' /etc/subgid 2>/dev/null ||
    usermod --add-subgids 200000-265535 plinth-test
fi

# Python tools (validators, peers) and SeaweedFS (`weed`, the S3-compatible server of the
# `plinth serve` S3 tests), each kept in a virtualenv beside the checkout. pip mostly
# waits on the network, so the virtualenvs are made in the background while cargo
# builds (below), and waited for before the tests run.
venv() { # DIR REQUIREMENTS
  if [ ! -x "$1/bin/python" ] || ! cmp -s "$2" "$1/.requirements"; then
    say "preparing $1"
    python3 -m venv "$1"
    "$1/bin/pip" install -q -r "$2"
    cp "$2" "$1/.requirements"
  fi
}
VENV_LOG="$(mktemp)"
( venv .venv-tools scripts/test-requirements.txt &&
  venv .venv-s3 scripts/test-requirements-s3.txt ) >"$VENV_LOG" 2>&1 &
VENV_PID=$!
trap 'kill "$VENV_PID" 2>/dev/null || true; rm -f "$VENV_LOG"' EXIT
export PATH="$PWD/.venv-tools/bin:$PWD/.venv-s3/bin:$PATH"

# cargo-auditable builds the Rust binaries whose embedded dependency lists the SBOM
# tests read.
if ! command -v cargo-auditable >/dev/null 2>&1; then
  say "installing cargo-auditable"
  cargo install -q --locked cargo-auditable
fi

say "building the example's static binary"
make -s -C examples/hello hello

say "cargo fmt --check"
cargo fmt --all -- --check

# Clippy and the tests share one build. `cargo clippy` is `cargo check` with clippy-driver
# as the workspace's rustc wrapper; running `cargo test` with the same wrapper lints every
# workspace target (lib, bins, tests, examples: what `--all-targets` covers here) while
# it compiles it for real, so the workspace and its dependencies are compiled once, not
# checked once and built again. CLIPPY_ARGS is how cargo-clippy hands `-- -D warnings`
# to clippy-driver.
CLIPPY_DRIVER="$(rustc --print sysroot)/bin/clippy-driver"
if [ -x "$CLIPPY_DRIVER" ]; then
  export RUSTC_WORKSPACE_WRAPPER="$CLIPPY_DRIVER"
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
  say "cargo test, linted by clippy as it builds"
else
  say "clippy-driver is not installed (rustup component add clippy): cargo clippy, then cargo test"
  cargo clippy --workspace --all-targets --locked --profile ci -- -D warnings
fi
wait_for_venvs() {
  if ! wait "$VENV_PID"; then
    cat "$VENV_LOG" >&2
    say "preparing the virtualenvs failed"
    exit 1
  fi
  cat "$VENV_LOG" >&2
}
# Most CLI tests wait on other processes (registries, podman, SeaweedFS, servers' timeouts)
# far more than they compute: four at a time on two cores halves their wall time
# (measured: 199 s with two, 117 s with four, the same CPU).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
# The `ci` profile (Cargo.toml): dev without debug info or incremental state, in target/ci.
build=(cargo test --workspace --locked --profile ci)
if [ $# -eq 0 ] || { [ $# -eq 1 ] && [ "$1" = "--no-fail-fast" ]; }; then
  # The whole suite: scripts/run-tests.py runs the other test binaries beside the CLI
  # tests, at a lower priority, in the time those leave a core idle (every binary runs,
  # as with --no-fail-fast).
  ARTIFACTS="$(mktemp)"
  trap 'kill "$VENV_PID" 2>/dev/null || true; rm -f "$VENV_LOG" "$ARTIFACTS"' EXIT
  "${build[@]}" --no-run --message-format=json-render-diagnostics >"$ARTIFACTS"
  wait_for_venvs
  python3 scripts/run-tests.py "$ARTIFACTS"
  # Documentation tests, as cargo test would run them.
  "${build[@]}" --doc
else
  # A part of it (cargo test's own arguments): as cargo test runs it. `-p CRATE` picks
  # crates instead of the whole workspace.
  case " $* " in
    *" -p "* | *" --package "* | *" --package="*) build=(cargo test --locked --profile ci) ;;
  esac
  "${build[@]}" --no-run "$@"
  wait_for_venvs
  "${build[@]}" "$@"
fi
