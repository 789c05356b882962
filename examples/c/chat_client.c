/* A chat client for the hub, in C on libtcphub.
 *
 *   cc -std=c11 -o chat_client examples/c/chat_client.c $(pkg-config --cflags --libs tcphub)
 *   ./chat_server 8001                  # one terminal (examples/c/chat_server.c)
 *   ./chat_client 127.0.0.1 8001        # two or more others
 *
 * Lines typed on stdin go to the hub; lines from the hub are printed. A
 * dropped connection is redialled with backoff. End the input (Ctrl-D) to
 * leave: the client half-closes, prints what the hub still sends and exits
 * when the hub closes the connection (exit code 0); when the connection is
 * lost for good instead (reconnecting gave up), it says so and how many
 * lines were not sent, exit code 1.
 *
 * One thread does both: it takes a message (waiting up to 50 ms for one),
 * then looks at stdin without waiting — after every message, so a busy hub
 * does not hold the input back. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tcphub.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096

/* Sends one line; waits while the bounded queue is full (the hub is not
 * reading). Returns TCPHUB_OK or the error. */
static int send_line(tcphub_client *c, const char *line, size_t len) {
    int rc;
    while ((rc = tcphub_client_send(c, (const uint8_t *)line, len)) == TCPHUB_ERR_QUEUE_FULL) {
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return rc;
}

/* A server's port number from the command line (1-65535: 0 is no
 * server's port), or -1 when `s` is not one. */
static long port_arg(const char *s) {
    char *end;
    long port = strtol(s, &end, 10);
    return end != s && *end == '\0' && port >= 1 && port <= 65535 ? port : -1;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    long port = argc > 2 ? port_arg(argv[2]) : 8001;
    if (argc > 3 || port < 0) {
        fprintf(stderr, "usage: chat_client [HOST [PORT]]   (PORT 1-65535; default 127.0.0.1 8001)\n");
        return 2;
    }

    tcphub_client_options opts;
    tcphub_client_options_init(&opts);
    opts.framing = TCPHUB_FRAMING_LINES;
    opts.reconnect = true;
    opts.reconnect_max_attempts = 10;
    tcphub_client *c = NULL;
    if (tcphub_client_connect_with(host, (uint16_t)port, &opts, &c) != TCPHUB_OK) {
        fprintf(stderr, "chat_client: %s\n", tcphub_last_error());
        return 1;
    }
    fprintf(stderr, "connected from port %u\n", (unsigned)tcphub_client_local_port(c));

    char typed[LINE_MAX_LEN];
    size_t have = 0;
    int input_open = 1, status = 0;
    for (;;) {
        /* What the hub sent: until the connection is gone for good (the hub
         * closed it after our half-close, or reconnecting gave up). */
        tcphub_message msg;
        int rc = tcphub_client_recv(c, &msg, 50);
        if (rc == TCPHUB_OK) {
            if (msg.len > 0) fwrite(msg.data, 1, msg.len, stdout); /* bytes, NULs included */
            putchar('\n');
            fflush(stdout);
            tcphub_message_release(&msg);
        } else if (rc == TCPHUB_ERR_NOT_RUNNING) {
            /* The end we asked for (input ended), or reconnecting gave up:
             * told apart below. */
            break;
        } else if (rc != TCPHUB_ERR_TIMEOUT) {
            fprintf(stderr, "chat_client: %s\n", tcphub_last_error());
            status = 1;
            break;
        }
        /* What was typed, without waiting: after a message too, so that a
         * hub that keeps talking does not hold the input back. */
        struct pollfd p = {STDIN_FILENO, POLLIN, 0};
        if (!input_open || poll(&p, 1, 0) <= 0) continue;
        ssize_t n = read(STDIN_FILENO, typed + have, sizeof typed - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { /* end of input (or an error): send what is left, half-close */
            if (have > 0 && send_line(c, typed, have) != TCPHUB_OK) {
                fprintf(stderr, "not sent: %s\n", tcphub_last_error());
            }
            tcphub_client_shutdown_write(c); /* NOT_RUNNING: already ended, as recv says next */
            input_open = 0;
            continue;
        }
        have += (size_t)n;
        char *start = typed, *nl;
        while ((nl = memchr(start, '\n', have - (size_t)(start - typed))) != NULL) {
            if (send_line(c, start, (size_t)(nl - start)) != TCPHUB_OK) {
                fprintf(stderr, "not sent: %s\n", tcphub_last_error());
            }
            start = nl + 1;
        }
        have -= (size_t)(start - typed);
        memmove(typed, start, have);
        if (have == sizeof typed) { /* a line longer than the buffer: send it as is */
            send_line(c, typed, have);
            have = 0;
        }
    }
    /* After the half-close, a clean end is the hub closing the connection:
     * anything else (reconnecting gave up while the hub was down, a reset)
     * may have lost lines typed before the end of input. Before it, any end
     * is the connection lost. */
    int reason = -1;
    if (status == 0 && tcphub_client_disconnect_reason(c, &reason) == TCPHUB_OK &&
        (input_open || reason != TCPHUB_REASON_CLOSED_BY_PEER)) {
        fprintf(stderr, "chat_client: the connection to the hub is lost (%s); %llu lines not sent\n",
                tcphub_disconnect_detail(), (unsigned long long)tcphub_client_unsent(c));
        status = 1;
    }
    tcphub_client_free(c);
    return status;
}
