#!/usr/bin/env bash
# Runs the whole benchmark comparison and writes BENCHMARKS.md and
# bench/fanout.svg: tcphub (Rust, C, Python) against a tuned tokio server,
# plain asyncio and ncat --broker, alternating, several rounds, medians.
#
#   scripts/bench.sh                 # full run (~10-15 min on 2 cores)
#   scripts/bench.sh --quick         # smaller runs, a couple of minutes
#   scripts/bench.sh --rounds 5 --servers tcphub,tokio
#
# Extra arguments go to `tcphub-bench compare` (see its --help).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# 10,000 idle connections on both ends need file descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open-file limit: $(ulimit -n)"

if ! command -v ncat >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ncat
fi

cargo build --release --locked -p tcphub-cli -p tcphub-bench -p tcphub-ffi
# Where cargo put them (CARGO_TARGET_DIR may point outside the repository).
RELEASE=${CARGO_TARGET_DIR:-target}/release
case "$RELEASE" in /*) ;; *) RELEASE="$ROOT/$RELEASE" ;; esac

# The C relay, linked against the release library (tcphub-bench looks for
# it in the repository's target/bench-c).
mkdir -p target/bench-c
cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -o target/bench-c/relay_server \
    examples/c/relay_server.c -L"$RELEASE" -ltcphub -Wl,-rpath,"$RELEASE" -lpthread
# The minimal C epoll echo server: the ceiling for echo and capacity.
cc -std=c11 -O2 -Wall -Wextra -Werror -o target/bench-c/c_epoll_echo bench/c_epoll_echo.c -lpthread

# Python with tcphub installed (same venv as the test script).
VENV=${TCPHUB_VENV:-$ROOT/.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
MATURIN_PEP517_ARGS=--locked "$VENV/bin/python" -m pip install -q "$ROOT"

servers=tcphub,tcphub-1-loop,tcphub-no-busy-poll,tokio,tokio-coalesced,asyncio,ncat-broker,tcphub-c,tcphub-python-callback,tcphub-python-poll,c-epoll-minimal
exec "$RELEASE/tcphub-bench" compare --servers "$servers" --python "$VENV/bin/python" "$@"
