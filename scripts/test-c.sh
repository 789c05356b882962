#!/usr/bin/env bash
# Tests the C ABI of tcphub (libtcphub + include/tcphub.h) from real C and
# C++ programs. Works on a fresh Debian machine: installs gcc, g++,
# valgrind and pkg-config with apt-get when missing (as root, or via sudo).
#
#   scripts/test-c.sh
#
# Steps: build the ffi crate; check the header against cbindgen; compile
# every tests/c/*.c with -std=c11 -Wall -Wextra -Werror, once with
# AddressSanitizer + UndefinedBehaviorSanitizer and once plain; compile the
# header alone as C89..C17 and C++98..C++20 (-Wpedantic) and its usage
# snippets (tests/c/header_snippets.sh), and run a C++ test; run the C tests under
# the sanitizers, then under valgrind; build examples/c/chat_server.c both
# against the build tree and through pkg-config after a staged install (the
# static library), and run a two-client smoke test of it; the same against
# the build tree for examples/c/chat_client.c and relay_server.c.
# Exit status is 0 only if every step passed; the last line is the summary.
#
# Environment: TCPHUB_CYCLES (start/stop cycles in test_cycles, default 100
# under the sanitizers, 20 under valgrind); TCPHUB_FORKS (forks per race in
# test_fork, default 50; 0, skipping them, under valgrind, whose unfair
# thread lock lets the busy threads starve the forking one for minutes).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

section() { printf '\n==== %s ====\n' "$*"; }
show() { printf '+ %s\n' "$*"; }
die() {
    printf 'FAILED: %s\n' "$*" >&2
    exit 1
}

passed=0
failed=0
failures=()
# record STATUS NAME: counts one step and says how it went.
record() {
    if [ "$1" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %s\n' "$2"
    else
        failed=$((failed + 1))
        failures+=("$2")
        printf 'FAIL %s (exit %s)\n' "$2" "$1"
    fi
}
# step NAME CMD...: shows, runs and records a command.
step() {
    local name=$1
    shift
    show "$*"
    "$@"
    record $? "$name"
}
# test_step NAME CMD...: as step, for a test program: its output is also kept,
# and a failure's summary line quotes the test's own complaint (a CHECK that
# failed, a wait that timed out), which a leak report after it would bury.
test_step() {
    local name=$1 log status
    shift
    log=$(mktemp)
    show "$*"
    "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    if [ "$status" -ne 0 ]; then
        local why
        why=$(grep -m 2 -E 'CHECK failed|timed out waiting|tcphub_last_error:' "$log" | tr '\n' ' ')
        [ -n "$why" ] && name="$name: $why"
        case $status in
            124) name="$name: timed out" ;;
            137) name="$name: killed (a hang past the timeout's SIGTERM, or out of memory)" ;;
        esac
    fi
    rm -f "$log"
    record "$status" "$name"
}

section "system packages"
missing=()
command -v gcc >/dev/null || missing+=(gcc)
command -v g++ >/dev/null || missing+=(g++)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v readelf >/dev/null || missing+=(binutils)
if ((${#missing[@]})); then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    show "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq || die "apt-get update"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]}"
fi
command -v cargo >/dev/null || die "cargo not found: install Rust first"
echo "ok: $(gcc --version | head -n 1); $(valgrind --version); pkg-config $(pkg-config --version)"

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
LIBDIR="$TARGET_DIR/debug"
BUILD="$TARGET_DIR/c-tests"
rm -rf "$BUILD"
mkdir -p "$BUILD/asan" "$BUILD/plain"

section "build libtcphub (ffi crate)"
show "cargo build --locked -p tcphub-ffi"
cargo build --locked -p tcphub-ffi || die "cargo build --locked -p tcphub-ffi"
ls -l "$LIBDIR/libtcphub.so" "$LIBDIR/libtcphub.a" || die "library files missing"

section "header is what cbindgen generates; codes match the core"
step "cargo test --locked -p tcphub-ffi" cargo test -q --locked -p tcphub-ffi

CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -I"$ROOT/include" -pthread)
CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -g -I"$ROOT/include" -pthread)
# shellcheck disable=SC2054 # the commas are in the compiler options
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
# shellcheck disable=SC2054
LINK=(-L"$LIBDIR" -ltcphub -Wl,-rpath,"$LIBDIR")

section "compile the header alone as C89 to C17 and C++98 to C++20 (-Wpedantic)"
# Included first and alone, twice (the include guard), in every standard
# it claims, with the warnings a strict project turns on.
printf '#include <tcphub.h>\n#include <tcphub.h>\n' >"$BUILD/header_twice.c"
cp "$BUILD/header_twice.c" "$BUILD/header_twice.cpp"
HDR_CWARN=(-Wall -Wextra -Wpedantic -Werror -Wconversion -Wstrict-prototypes -Wold-style-definition
    -Wmissing-prototypes -Wundef -I"$ROOT/include")
HDR_CXXWARN=(-Wall -Wextra -Wpedantic -Werror -Wconversion -Wold-style-cast -Wundef
    -Wzero-as-null-pointer-constant -I"$ROOT/include")
for std in c89 c99 c11 c17; do
    step "header as $std" gcc -x c -std=$std "${HDR_CWARN[@]}" -fsyntax-only "$BUILD/header_twice.c"
done
for std in c++98 c++11 c++17 c++20; do
    step "header as $std" g++ -x c++ -std=$std "${HDR_CXXWARN[@]}" -fsyntax-only "$BUILD/header_twice.cpp"
done

section "the header's usage snippets compile"
step "tests/c/header_snippets.sh" tests/c/header_snippets.sh "$BUILD/snippets"

section "compile tests/c (ASan+UBSan build and plain build)"
tests=()
for src in tests/c/*.c tests/c/*.cpp; do
    name=$(basename "${src%.*}")
    case "$src" in
        *.cpp) cc=(g++ "${CXXFLAGS[@]}") ;;
        *) cc=(gcc "${CFLAGS[@]}") ;;
    esac
    step "compile $name (sanitizers)" "${cc[@]}" "${SAN[@]}" "$src" -o "$BUILD/asan/$name" "${LINK[@]}"
    step "compile $name (plain)" "${cc[@]}" "$src" -o "$BUILD/plain/$name" "${LINK[@]}"
    tests+=("$name")
done

section "run tests/c under AddressSanitizer + UndefinedBehaviorSanitizer"
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for name in "${tests[@]}"; do
    [ -x "$BUILD/asan/$name" ] || continue
    test_step "$name (asan+ubsan)" env TCPHUB_CYCLES="${TCPHUB_CYCLES:-100}" timeout -k 30 600 "$BUILD/asan/$name"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

section "run tests/c under valgrind"
for name in "${tests[@]}"; do
    [ -x "$BUILD/plain/$name" ] || continue
    test_step "$name (valgrind)" env TCPHUB_CYCLES="${TCPHUB_CYCLES:-20}" TCPHUB_FORKS="${TCPHUB_FORKS:-0}" timeout -k 30 1200 \
        valgrind -q --error-exitcode=1 --leak-check=full \
        --suppressions="$ROOT/tests/c/valgrind.supp" "$BUILD/plain/$name"
done

section "examples: examples/c/chat_server.c, chat_client.c, relay_server.c"
step "build chat_server against the build tree" \
    gcc "${CFLAGS[@]}" examples/c/chat_server.c -o "$BUILD/chat_server" "${LINK[@]}"
step "build chat_client against the build tree (sanitizers)" \
    gcc "${CFLAGS[@]}" "${SAN[@]}" examples/c/chat_client.c -o "$BUILD/chat_client" "${LINK[@]}"
step "build relay_server against the build tree (sanitizers)" \
    gcc "${CFLAGS[@]}" "${SAN[@]}" examples/c/relay_server.c -o "$BUILD/relay_server" "${LINK[@]}"

# The README's path: install (staged, a debug build, in its own target
# directory because the installed library gets a SONAME), then compile
# with pkg-config.
PREFIX="$BUILD/prefix"
step "scripts/install-c.sh (PREFIX=$PREFIX)" \
    env PREFIX="$PREFIX" PROFILE=debug scripts/install-c.sh
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
show "pkg-config --cflags --libs tcphub: $(pkg-config --cflags --libs tcphub 2>&1)"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
step "build chat_server with pkg-config (shared)" \
    gcc -std=c11 -Wall -Wextra -Werror examples/c/chat_server.c -o "$BUILD/chat_server_pc" \
    $(pkg-config --cflags --libs tcphub) -Wl,-rpath,"$PREFIX/lib"
# shellcheck disable=SC2046
step "build chat_server with pkg-config --static (libtcphub.a)" \
    gcc -std=c11 -Wall -Wextra -Werror examples/c/chat_server.c -o "$BUILD/chat_server_static" \
    $(pkg-config --cflags tcphub) "$(pkg-config --variable=libdir tcphub)/libtcphub.a" \
    $(pkg-config --static --libs-only-l tcphub | sed 's/-ltcphub//')
unset PKG_CONFIG_PATH
# The installed library is versioned: the program records the SONAME, not
# the unversioned dev link, and still loads through it. (No `grep -q` after
# a pipe here: it exits at its match, and under pipefail the writer's
# SIGPIPE — ld.so writes ldd's lines one by one — fails the check.)
soname_of() { readelf -d "$1" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p'; }
needs_soname() {
    local soname
    soname=$(soname_of "$PREFIX/lib/libtcphub.so")
    show "installed SONAME: ${soname:-none}"
    [ -n "$soname" ] && [ "$soname" != libtcphub.so ] &&
        [ -e "$PREFIX/lib/$soname" ] &&
        readelf -d "$BUILD/chat_server_pc" | grep "Shared library: \[$soname\]" >/dev/null &&
        [ -z "$(soname_of "$LIBDIR/libtcphub.so")" ] &&
        ldd "$BUILD/chat_server_pc" | grep "$soname => $PREFIX/lib/$soname" >/dev/null
}
show "the installed libtcphub.so has a SONAME, the program needs it, the build tree's has none"
needs_soname
record $? "installed library is versioned (SONAME) and the program loads it"

# Starts chat (or relay) server binary $1 on a free port, logging to $2;
# sets chat_pid and chat_port. Fails (and stops it) if it does not say
# where it listens within 20 s.
start_chat_server() {
    local i
    "$1" 0 >"$2" 2>&1 &
    chat_pid=$!
    chat_port=""
    for ((i = 0; i < 2000; i++)); do # up to 20 s for the "listening" line
        chat_port=$(sed -n 's/^\(chat\|relay\) server listening on port \([0-9]*\)$/\2/p' "$2")
        [ -n "$chat_port" ] && return 0
        kill -0 "$chat_pid" 2>/dev/null || break
        sleep 0.01
    done
    echo "$(basename "$1") did not start:"
    cat "$2"
    stop_server "$chat_pid" 2>/dev/null
    return 1
}

# wait_for PID: its exit status, waiting up to 30 s; a process still running
# then is killed (status 137): a server that does not stop, or a client that
# does not leave, fails its step instead of hanging the run forever.
wait_for() {
    local end=$((SECONDS + 30))
    while ((SECONDS < end)) && kill -0 "$1" 2>/dev/null; do
        sleep 0.01
    done
    if kill -0 "$1" 2>/dev/null; then
        echo "pid $1 ($(tr "\\0" " " </proc/"$1"/cmdline 2>/dev/null)) still running after 30 s: killed"
        kill -KILL "$1"
    fi
    wait "$1"
}
# stop_server PID: SIGTERM, then wait_for it.
stop_server() {
    kill -TERM "$1"
    wait_for "$1"
}

# Smoke test of the static binary: two bash /dev/tcp clients on loopback.
chat_smoke() {
    local line got=""
    start_chat_server "$1" "$BUILD/chat.out" || return 1
    exec 3<>"/dev/tcp/127.0.0.1/$chat_port" 4<>"/dev/tcp/127.0.0.1/$chat_port"
    # A connect returns before the server has accepted the connection: a
    # line client 3 sent now could be relayed before client 4 is in the
    # room. Any join notice client 4 reads says it is in.
    while IFS= read -r -t 20 line <&4; do
        case "$line" in *" connected") break ;; esac
    done
    printf 'hello, room\n' >&3
    # Client 4 sees join notices, then client 3's line, within 20 s.
    while IFS= read -r -t 20 line <&4; do
        case "$line" in *": hello, room") got=$line && break ;; esac
    done
    # Client 3 leaves: client 4 is told why, in words (a reset when bash
    # closes it with unread notices in its buffer).
    local left=""
    exec 3>&-
    while IFS= read -r -t 20 line <&4; do
        case "$line" in *" disconnected ("*) left=$line && break ;; esac
    done
    exec 4>&-
    stop_server "$chat_pid"
    local rc=$?
    echo "relayed: ${got:-nothing}; leave notice: ${left:-none}; chat_server exited with $rc"
    [ -n "$got" ] && [ "$rc" -eq 0 ] && case "$left" in *" disconnected (closed by peer)" | *" disconnected (connection reset)") true ;; *) false ;; esac
}
show "chat_server smoke test: two clients on 127.0.0.1, one line relayed, a leave notice, SIGTERM"
chat_smoke "$BUILD/chat_server_static"
record $? "chat_server relays a line and exits cleanly on SIGTERM"

# chat_client against chat_server: its lines come back relayed, a NUL byte
# in one included (shown as @); at the end of its input it half-closes, the
# server closes, and it exits 0.
client_smoke() {
    local got="$BUILD/client.out" rc
    start_chat_server "$BUILD/chat_server" "$BUILD/chat2.out" || return 1
    printf 'hello from C\nnul\0byte\n' | timeout 60 "$BUILD/chat_client" 127.0.0.1 "$chat_port" |
        tr '\0' @ >"$got"
    rc=${PIPESTATUS[1]}
    stop_server "$chat_pid"
    echo "chat_client exited with $rc; printed:"
    cat "$got"
    [ "$rc" -eq 0 ] && grep -q ": hello from C$" "$got" && grep -q ": nul@byte$" "$got"
}
show "chat_client smoke test: a line to chat_server on 127.0.0.1 comes back, exit 0 at end of input"
client_smoke
record $? "chat_client sends, prints the relay and leaves cleanly"

# chat_client on a busy hub: what it reads from stdin goes out while the
# hub keeps sending (another client says a line every 10 ms, for up to
# 20 s or until the line has come back), not only once the hub is quiet.
busy_client_smoke() {
    local got="$BUILD/busy_client.out" fifo="$BUILD/busy_client.in" i=0 rc seen=""
    local end=$((SECONDS + 20))
    start_chat_server "$BUILD/chat_server" "$BUILD/chat3.out" || return 1
    exec 3<>"/dev/tcp/127.0.0.1/$chat_port"
    rm -f "$fifo" && mkfifo "$fifo"
    "$BUILD/chat_client" 127.0.0.1 "$chat_port" <"$fifo" >"$got" 2>&1 &
    local client_pid=$!
    exec 5>"$fifo"
    # The chatter: a line every 10 ms; the client's line once some have come.
    while ((SECONDS < end)); do
        printf 'tick %d\n' "$i" >&3
        if ((i == 20)); then printf 'hello from a busy room\n' >&5; fi
        if grep -q ': hello from a busy room$' "$got"; then seen=$i && break; fi
        sleep 0.01
        i=$((i + 1))
    done
    exec 5>&- # end of input: the client half-closes and leaves
    wait_for "$client_pid"
    rc=$?
    exec 3>&-
    stop_server "$chat_pid"
    echo "line relayed: ${seen:+after tick }${seen:-never while the hub was busy}; chat_client exited with $rc"
    [ -n "$seen" ] && [ "$rc" -eq 0 ]
}
show "chat_client sends its input while the hub keeps sending (a line every 10 ms)"
busy_client_smoke
record $? "chat_client sends what it reads while the hub is busy"

# chat_client losing the hub for good while its input is still open: the
# hub stops, two lines are typed meanwhile, and once reconnecting gives up
# (10 attempts with backoff: about a minute) it says why and how many lines
# were not sent, exit code 1. (It said only "the connection to the hub is
# lost", without either, where its comment promises both.)
lost_client_smoke() {
    local got="$BUILD/lost_client.out" err="$BUILD/lost_client.err" fifo="$BUILD/lost_client.in"
    local rc i seen=""
    start_chat_server "$BUILD/chat_server" "$BUILD/chat4.out" || return 1
    rm -f "$fifo" && mkfifo "$fifo"
    "$BUILD/chat_client" 127.0.0.1 "$chat_port" <"$fifo" >"$got" 2>"$err" &
    local client_pid=$!
    exec 5>"$fifo"
    printf 'before the hub left\n' >&5
    for ((i = 0; i < 2000; i++)); do # up to 20 s for it to come back relayed
        grep -q ': before the hub left$' "$got" && seen=yes && break
        sleep 0.01
    done
    stop_server "$chat_pid"
    printf 'typed while away 1\ntyped while away 2\n' >&5
    # Up to 5 min for the attempts (about one), then it is stopped.
    timeout 300 tail --pid="$client_pid" -f /dev/null || kill "$client_pid"
    wait_for "$client_pid"
    rc=$?
    exec 5>&-
    echo "relayed first: ${seen:-no}; chat_client exited with $rc; its stderr:"
    cat "$err"
    [ -n "$seen" ] && [ "$rc" -eq 1 ] &&
        grep -Eq '^chat_client: the connection to the hub is lost \(gave up reconnecting after 10 attempts\); [0-9]+ lines not sent$' "$err"
}
show "chat_client says why and how many lines were not sent when the hub is lost for good"
lost_client_smoke
record $? "chat_client reports a hub lost for good with the reason and the lines not sent"

# relay_server: length-prefixed frames go to every client, the sender
# included. Each client reads its own frame back first: then it is in the
# room (bash keeps no NUL bytes, so frames are compared as hex).
relay_smoke() {
    local a b rc
    start_chat_server "$BUILD/relay_server" "$BUILD/relay.out" || return 1
    exec 3<>"/dev/tcp/127.0.0.1/$chat_port"
    printf '\0\0\0\5hello' >&3
    a=$(timeout 20 head -c 9 <&3 | od -An -tx1 | tr -d ' \n')
    exec 4<>"/dev/tcp/127.0.0.1/$chat_port"
    printf '\0\0\0\3bob' >&4
    b=$(timeout 20 head -c 7 <&4 | od -An -tx1 | tr -d ' \n')
    a=$a/$(timeout 20 head -c 7 <&3 | od -An -tx1 | tr -d ' \n')
    exec 3>&- 4>&-
    stop_server "$chat_pid"
    rc=$?
    echo "client a read $a, client b read $b; relay_server exited with $rc"
    [ "$a" = 0000000568656c6c6f/00000003626f62 ] && [ "$b" = 00000003626f62 ] && [ "$rc" -eq 0 ]
}
show "relay_server smoke test: two clients on 127.0.0.1, frames relayed to both, SIGTERM"
relay_smoke
record $? "relay_server relays frames to every client and exits cleanly on SIGTERM"

# Arguments that are not a port (or one too many) get the usage line and
# exit code 2 at once, from every example: no server on a port nobody asked
# for (atoi("abc") is 0, atoi("70000") wraps to 4464), no client dialling
# port 0 (no server's port).
bad_args() {
    local args out rc ok=0
    for args in "chat_server abc" "chat_server 70000" "chat_server -1" "chat_server 0 extra" \
        "relay_server 8001x" "chat_client 127.0.0.1 abc" "chat_client 127.0.0.1 70000" \
        "chat_client 127.0.0.1 0"; do
        # shellcheck disable=SC2086 # $args is the program and its arguments
        out=$(set -- $args && timeout 10 "$BUILD/$1" "${@:2}" </dev/null 2>&1)
        rc=$?
        echo "$args: exit $rc: $out"
        [ "$rc" -eq 2 ] && [[ $out == usage:* ]] || ok=1
    done
    return $ok
}
show "the examples refuse a bad port argument with their usage line"
bad_args
record $? "examples refuse bad arguments with a usage line and exit code 2"

section "summary"
if ((failed)); then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "c: $passed passed, $failed failed"
((failed == 0))
