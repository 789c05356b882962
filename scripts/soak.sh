#!/usr/bin/env bash
# The long soak: 1000 clients exchange sequence-numbered messages through one
# server for TCPHUB_SOAK_SECS seconds (default 60); fails on any message lost,
# duplicated, reordered or misdelivered, or any client disconnected.
#
#   scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export TCPHUB_SOAK_SECS=${1:-${TCPHUB_SOAK_SECS:-60}}
echo "soak: ${TCPHUB_SOAK_SECS} s"
cargo test --release --locked -p tcphub --test soak -- --ignored --nocapture soak_long
