#!/usr/bin/env bash
# Fuzzes tcphub's decoders for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 30)
#
# With a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`), runs
# every cargo-fuzz target under libFuzzer with coverage feedback; otherwise
# runs the stable harness (fuzz_stable: generated and mutated inputs, no
# coverage feedback) over the same target functions for the same total time.
# Exit code 0 means no target failed. Failing inputs land in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS=${1:-30}
TARGETS=(decode_lines decode_length_prefixed decode_raw roundtrip)

if cargo +nightly --version >/dev/null 2>&1 && cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo fuzz (libFuzzer, nightly): ${SECS} s per target"
    for t in "${TARGETS[@]}"; do
        echo "==== $t"
        log=$(mktemp)
        status=0
        cargo +nightly fuzz run "$t" -- -max_total_time="$SECS" -max_len=4096 >"$log" 2>&1 || status=$?
        # libFuzzer's progress lines are noise; keep the summary and any failure.
        grep -E '^Done|ERROR|panicked|SUMMARY|artifact' "$log" || true
        rm -f "$log"
        [ "$status" -eq 0 ] || { echo "FAILED: $t (exit $status)"; exit 1; }
    done
else
    echo "no nightly + cargo-fuzz here: stable harness, $((SECS * ${#TARGETS[@]})) s in all"
    cargo run --release --locked --quiet --bin fuzz_stable -- "$((SECS * ${#TARGETS[@]}))"
fi
echo "fuzz: no failures"
