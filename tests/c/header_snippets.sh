#!/usr/bin/env bash
# Compiles every ```c snippet of include/tcphub.h (-fsyntax-only, -Werror),
# so a renamed function, a wrong argument or a misspelt field in a usage
# example fails here instead of misleading a reader.
#
#   tests/c/header_snippets.sh [OUT_DIR]
#
# A snippet's function definitions (a line starting `static ` at column 0,
# to the next `}` at column 0) go at file scope; its other lines become the
# body of `int snippet(...)` (a block of its own), whose parameters are the names snippets use
# without declaring them (`s`, `c`, `host`, `port`, ...). The few helpers a
# snippet calls as the reader's own (`handle`, `jobs_of`, ...) are declared
# in the prelude below. Exit 0 when all compile.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
HEADER=include/tcphub.h

PRELUDE='#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tcphub.h>
/* The reader'"'"'s own names the snippets use. */
static volatile int stop_requested;
static void handle_message(const uint8_t *data, size_t len) { (void)data, (void)len; }
static void handle(const tcphub_event *ev) { (void)ev; }
static unsigned jobs[16];
#define jobs_of(id) (jobs[(id) % 16])
#define PER_CLIENT_MAX 8u
#define QUEUE_MAX 64u
struct queue { size_t len; tcphub_server *server; };'
PARAMS='tcphub_server *s, tcphub_server *srv, tcphub_client *c, const char *host, uint16_t port,
            uint64_t id, int reason, tcphub_connect_cancel *cancel, struct queue *q'

# One file per snippet: NAME.top (file scope) and NAME.body.
rm -f "$OUT"/snippet_*
awk -v out="$OUT" '
    /^ \* ```c$/ {
        n++; inside = 1; infn = 0
        print NR > sprintf("%s/snippet_%02d.line", out, n)
        next
    }
    /^ \* ```$/ { inside = 0; next }
    inside {
        sub(/^ \* ?/, "")
        if ($0 ~ /^static /) infn = 1
        f = sprintf("%s/snippet_%02d.%s", out, n, infn ? "top" : "body")
        print >> f
        if (infn && $0 ~ /^}/) infn = 0
        printf "" >> sprintf("%s/snippet_%02d.body", out, n)
    }
' "$HEADER"

count=0
bad=0
for body in "$OUT"/snippet_*.body; do
    name=${body%.body}
    count=$((count + 1))
    {
        printf '%s\n' "$PRELUDE"
        [ -f "$name.top" ] && cat "$name.top"
        printf 'int snippet(%s);\nint snippet(%s) {\n' "$PARAMS" "$PARAMS"
        printf '    (void)s, (void)srv, (void)c, (void)host, (void)port, (void)id, (void)reason, (void)cancel, (void)q;\n'
        printf '    (void)stop_requested, (void)handle_message, (void)handle, (void)jobs;\n'
        # In a block of its own: a snippet may declare a name of the
        # parameters (its own `tcphub_client *c;`).
        printf '{\n'
        cat "$body"
        printf '}\nreturn 0;\n}\n'
    } >"$name.c"
    if ! gcc -std=c11 -Wall -Wextra -Werror -Wno-unused-function -Wno-unused-variable \
        -Wno-unused-but-set-variable -Wno-unused-parameter -Iinclude -fsyntax-only "$name.c"; then
        echo "FAILED: the snippet at $HEADER:$(cat "$name.line") (as $name.c)" >&2
        bad=$((bad + 1))
    fi
done
if [ "$count" -lt 15 ]; then
    echo "FAILED: only $count snippets found in $HEADER (the extraction broke?)" >&2
    exit 1
fi
echo "$HEADER: $((count - bad)) of $count snippets compile"
[ "$bad" -eq 0 ]
