/* A length-prefixed relay in C on libtcphub: every frame a client sends goes
 * to every client, the sender included. Used by the benchmarks (C relay vs.
 * the Rust `tcphub serve --mode relay --framing len`).
 *
 *   cc -std=c11 -O2 -o relay_server examples/c/relay_server.c $(pkg-config --cflags --libs tcphub)
 *   ./relay_server 8001       # 0: a free port, the one it says it listens on */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <tcphub.h>

/* Runs on tcphub's event-loop threads; userdata is the server. */
static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id;
    tcphub_server_send_all(ud, data, len, NULL);
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
        fprintf(stderr, "usage: relay_server [PORT]   (0-65535, default 8001; 0: any free port)\n");
        return 2;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    tcphub_server *s = tcphub_server_new((uint16_t)port, 20000);
    if (s == NULL) {
        fprintf(stderr, "relay_server: %s\n", tcphub_last_error());
        return 1;
    }
    tcphub_server_set_bind_ip(s, "127.0.0.1");
    tcphub_server_set_framing(s, TCPHUB_FRAMING_LENGTH_PREFIXED, 0);
    tcphub_server_on_message(s, on_message, s);
    if (tcphub_server_start(s) != TCPHUB_OK) {
        fprintf(stderr, "relay_server: %s\n", tcphub_last_error());
        tcphub_server_free(s);
        return 1;
    }
    printf("relay server listening on port %u\n", (unsigned)tcphub_server_port(s));
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    tcphub_server_free(s);
    return 0;
}
