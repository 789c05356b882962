/* The socket tutorial's multi-client chat server, in C on libtcphub.
 *
 *   cc -std=c11 -o chat_server examples/c/chat_server.c $(pkg-config --cflags --libs tcphub)
 *   ./chat_server 8001        # then: ncat 127.0.0.1 8001  in two or more terminals
 *
 * Every client is told when someone joins or leaves; every line a client
 * sends goes to everyone, prefixed with the sender's id (its first 200
 * bytes). Ctrl-C stops it. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tcphub.h>

/* How much of `line` snprintf filled: it returns the length the text
 * would have had, which is more than the buffer holds when it was cut. */
static size_t fitted(int n, size_t size) {
    if (n < 0) return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

/* Callbacks run on tcphub's event-loop threads; userdata is the server. */
static void on_connect(void *ud, uint64_t id, const char *ip, uint16_t port) {
    char line[128];
    int n = snprintf(line, sizeof line, "client #%llu (%s:%u) connected",
                     (unsigned long long)id, ip, (unsigned)port);
    tcphub_server_send_all(ud, (const uint8_t *)line, fitted(n, sizeof line), NULL);
}

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    char line[256];
    int n = snprintf(line, sizeof line, "#%llu: ", (unsigned long long)id);
    if (len > 200) len = 200; /* a long line is cut */
    memcpy(line + n, data, len); /* bytes, not a C string: a NUL byte is data too */
    tcphub_server_send_all(ud, (const uint8_t *)line, (size_t)n + len, NULL);
}

static void on_disconnect(void *ud, uint64_t id, int reason) {
    (void)reason; /* the code; the detail below says more ("i/o error: timed out") */
    char line[160];
    int n = snprintf(line, sizeof line, "client #%llu disconnected (%s)",
                     (unsigned long long)id, tcphub_disconnect_detail());
    tcphub_server_send_all(ud, (const uint8_t *)line, fitted(n, sizeof line), NULL);
}

/* A port number from the command line, or -1 when `s` is not one. */
static long port_arg(const char *s) {
    char *end;
    long port = strtol(s, &end, 10);
    return end != s && *end == '\0' && port >= 0 && port <= 65535 ? port : -1;
}

int main(int argc, char **argv) {
    long port = argc > 1 ? port_arg(argv[1]) : 8001;
    if (argc > 2 || port < 0) {
        fprintf(stderr, "usage: chat_server [PORT]   (0-65535, default 8001; 0: any free port)\n");
        return 2;
    }
    /* Block SIGINT/SIGTERM before tcphub starts its threads; wait for them below. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    tcphub_server *s = tcphub_server_new((uint16_t)port, 100);
    if (s == NULL) {
        fprintf(stderr, "chat_server: %s\n", tcphub_last_error());
        return 1;
    }
    tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0);
    tcphub_server_on_connect(s, on_connect, s);
    tcphub_server_on_message(s, on_message, s);
    tcphub_server_on_disconnect(s, on_disconnect, s);
    if (tcphub_server_start(s) != TCPHUB_OK) {
        fprintf(stderr, "chat_server: %s\n", tcphub_last_error());
        tcphub_server_free(s);
        return 1;
    }
    printf("chat server listening on port %u\n", (unsigned)tcphub_server_port(s));
    fflush(stdout);

    int sig;
    sigwait(&sigs, &sig);
    tcphub_server_free(s); /* stops: flushes, says goodbye, joins the threads */
    return 0;
}
