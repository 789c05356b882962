#!/usr/bin/env bash
# Builds and tests the Python package the way a user installs it, on a fresh
# Debian machine (as root, with the Rust toolchain present):
#
#   1. a virtualenv (apt-get install python3-venv only if `python3 -m venv` fails),
#   2. `pip install .`  — maturin from PyPI as the PEP 517 backend builds the abi3 wheel,
#   3. pytest tests/python,
#   4. the .pyi stub checked against the built module (mypy stubtest), and the
#      package, stub, examples and the benchmark's Python servers type-checked
#      with mypy --strict.
#
#   scripts/test-python.sh            # venv in .venv (reused if present)
#   TCPHUB_VENV=/tmp/v scripts/test-python.sh
#
# Prints each command before running it; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${TCPHUB_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

section() { printf '\n==== %s ====\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

# The 200-client test opens ~400 sockets at once; the soft limit may be low.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

section "virtualenv ($VENV)"
command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
    if ! run "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO=sudo
        # Debian splits venv/ensurepip out of python3 (python3.X-venv matches the interpreter).
        pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        run $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive run $SUDO apt-get install -y -qq python3-venv "python$pyver-venv" ||
            DEBIAN_FRONTEND=noninteractive run $SUDO apt-get install -y -qq python3-venv
        run "$PYTHON" -m venv "$VENV"
    fi
fi
PY="$VENV/bin/python"
run "$PY" --version
run "$PY" -m pip install --quiet --upgrade pip

section "pip install . (maturin builds the wheel)"
command -v cargo >/dev/null || { echo "error: cargo (Rust) is needed to build the extension" >&2; exit 1; }
# --locked: build with the committed Cargo.lock, never rewrite it.
run env MATURIN_PEP517_ARGS=--locked "$PY" -m pip install --quiet --force-reinstall --no-deps .
run "$PY" -m pip install --quiet "pytest>=7" "mypy>=1.10"
run "$PY" -c 'import tcphub; print("tcphub", tcphub.__version__, "from", tcphub.__file__)'

section "pytest tests/python"
# Run from outside the source tree's python/ dir so the installed package is what gets imported.
run "$PY" -m pytest tests/python -ra

section "stub check: mypy stubtest + mypy --strict"
# stubtest imports the installed module and compares it with python/tcphub/_tcphub.pyi (shipped in the wheel).
(cd "$VENV" && run "$PY" -m mypy.stubtest tcphub --concise)
(cd "$VENV" && run "$PY" -m mypy --strict --no-incremental -p tcphub)
# Every example (a new one is checked without being named here) and the
# benchmark's Python servers.
run "$PY" -m mypy --strict --no-incremental examples/python/*.py bench/*.py

echo
echo "PYTHON TESTS PASSED"
