#!/usr/bin/env bash
# Runs every test of tcphub — Rust, C and Python — on a fresh Debian machine.
# Installs what it needs first (apt-get for C/network tools, a Python venv),
# so it needs root (or sudo) the first time. Exit code 0 means all passed.
#
#   scripts/test.sh
#   TCPHUB_RUST_TEST_TIMEOUT=SECS scripts/test.sh   # bound on cargo test (default 7200)
set -euo pipefail
cd "$(dirname "$0")/.."

current="setup"
section() {
    current=$*
    printf '\n==== %s ====\n' "$*"
}
# A failing command ends the run (set -e): say in which section, last.
trap 'echo "FAILED: $current (exit $?)" >&2' ERR
# What did not run here: listed at the end, and the last line says so.
skipped=()

# Tests open hundreds of sockets at once; the soft limit may be low.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

section "system packages"
missing=()
command -v ncat >/dev/null || missing+=(ncat)
command -v cc >/dev/null || missing+=(gcc)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v ip >/dev/null || missing+=(iproute2) # keepalive tests (veth; tc for review_lossy_path)
command -v python3 >/dev/null || missing+=(python3) # scripts/test-python.sh (it adds python3-venv)
command -v shellcheck >/dev/null || missing+=(shellcheck)
if ((${#missing[@]})); then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
echo "ok: ncat $(ncat --version 2>&1 | grep -o '[0-9][0-9.]*' | head -1), $(cc --version | head -1)"

section "shell scripts: shellcheck"
shellcheck -S warning .ci/run scripts/*.sh tests/c/header_snippets.sh

section "rust toolchain components"
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
cargo --version

section "rust: format"
cargo fmt --all --check
(cd fuzz && cargo fmt --all --check) # its own workspace

section "rust: clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
(cd fuzz && cargo clippy --all-targets --locked -- -D warnings)

section "rust: tests (unit, integration, doc, CLI end-to-end)"
# ncat was installed above: its interop test must run, not skip. Where a
# network namespace can be made (root, and not a container that withholds
# CAP_SYS_ADMIN, as Docker does by default), the keepalive tests (a
# namespace each) must run too.
NETNS=()
if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
    NETNS=(TCPHUB_REQUIRE_NETNS=1)
fi
((${#NETNS[@]})) ||
    skipped+=("the network-namespace tests (keepalive, vanish, lossy path: no network namespace here, not root or no CAP_SYS_ADMIN)")
# No test may hang the run: the C tests have timeout(1), Python a watchdog;
# this bounds the whole cargo test (builds included, generously).
env "${NETNS[@]}" TCPHUB_REQUIRE_NCAT=1 timeout -k 60 "${TCPHUB_RUST_TEST_TIMEOUT:-7200}" cargo test --workspace --locked

section "rust: decoder fuzzing (stable harness, fixed seed, 20 s)"
# The cargo-fuzz targets' functions fed generated and mutated inputs for a
# bounded time; scripts/fuzz.sh runs longer, under libFuzzer with nightly.
(cd fuzz && cargo run --release --locked --quiet --bin fuzz_stable -- 20 --seed 1)

section "benchmark smoke (correctness only, seconds)"
cargo build --locked -p tcphub-cli -p tcphub-bench
"${CARGO_TARGET_DIR:-target}/debug/tcphub-bench" smoke

section "rust: docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

section "rust: the declared rust-version builds the workspace (cargo check)"
# Cargo.toml's rust-version is a promise to users of older compilers:
# clippy's incompatible_msrv catches std items newer than it, not language
# features or dependencies' own needs. Needs that toolchain from rustup.
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
if rustup run "$msrv" cargo --version >/dev/null 2>&1 ||
    rustup toolchain install "$msrv" --profile minimal; then
    cargo "+$msrv" check --workspace --all-targets --locked
else
    echo "SKIPPED: rustup could not install Rust $msrv"
    skipped+=("the rust-version ($msrv) check (no such toolchain)")
fi

section "rust: the crates build for macOS (cargo clippy)"
# Tested on Linux only; this keeps `cargo add tcphub` compiling on a Mac
# (TCP_INFO, for one, is Linux's). Needs the target's std from rustup.
if rustup target list --installed 2>/dev/null | grep -qx x86_64-apple-darwin ||
    rustup target add x86_64-apple-darwin; then
    PYO3_CROSS_PYTHON_VERSION=3.11 cargo clippy --locked --target x86_64-apple-darwin \
        -p tcphub -p tcphub-ffi -p tcphub-cli -p tcphub-python -- -D warnings
else
    echo "SKIPPED: rustup could not install the x86_64-apple-darwin target"
    skipped+=("the macOS build check (no x86_64-apple-darwin target)")
fi

section "rust: package contents"
cargo package -p tcphub --no-verify --list --locked --allow-dirty

section "C: libtcphub from C and C++ (sanitizers, valgrind, pkg-config)"
scripts/test-c.sh

section "Python: pip install . in a venv, pytest, stub check"
scripts/test-python.sh

echo
for what in "${skipped[@]}"; do echo "SKIPPED: $what"; done
echo "ALL TESTS PASSED (Rust, C, Python)${skipped[*]:+, but ${#skipped[@]} skipped (above)}"
