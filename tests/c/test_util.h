/* Shared helpers for the C tests of libtcphub: checks, bounded waits, and
 * plain BSD-socket clients on 127.0.0.1. Every wait has a deadline; a check
 * that fails prints where and tcphub_last_error(), then exits 1. */
#ifndef TCPHUB_TEST_UTIL_H
#define TCPHUB_TEST_UTIL_H

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcphub.h"

/* Upper bound for any wait: generous, since the machine may be busy. It is
 * never an assertion about speed, only a guard against hanging forever. */
#define WAIT_MS 20000

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n  tcphub_last_error: %s\n", \
                    __FILE__, __LINE__, #cond, tcphub_last_error());             \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* Checks that `expr` returns the code `want`, printing both names if not. */
#define CHECK_RC(expr, want)                                                       \
    do {                                                                           \
        int rc_ = (expr);                                                          \
        if (rc_ != (want)) {                                                       \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n"       \
                            "  tcphub_last_error: %s\n",                           \
                    __FILE__, __LINE__, #expr, rc_, tcphub_strerror(rc_), (want),  \
                    tcphub_strerror(want), tcphub_last_error());                   \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, TCPHUB_OK)

static inline int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void nap_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Re-evaluates `cond` every few milliseconds until it holds or WAIT_MS pass. */
#define WAIT_UNTIL(cond)                                                     \
    do {                                                                     \
        int64_t deadline_ = now_ms() + WAIT_MS;                              \
        while (!(cond)) {                                                    \
            if (now_ms() > deadline_) {                                      \
                fprintf(stderr, "%s:%d: timed out waiting for: %s\n",        \
                        __FILE__, __LINE__, #cond);                          \
                exit(1);                                                     \
            }                                                                \
            nap_ms(2);                                                       \
        }                                                                    \
    } while (0)

/* A connection to `port` on 127.0.0.1 from local IPv4 address `from`
 * (host order; 0: any), with a receive buffer of `rcvbuf` bytes (0: the
 * system's default). */
static inline int connect_from_with_rcvbuf(uint32_t from, uint16_t port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    if (rcvbuf > 0)
        CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    if (from != 0) {
        addr.sin_addr.s_addr = htonl(from);
        CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    }
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    return fd;
}

/* A blocking loopback connection to `port` whose receive buffer is
 * `rcvbuf` bytes (0: the system's default) — a small one makes the
 * server's writes stall soon while the test does not read. */
static inline int connect_with_rcvbuf(uint16_t port, int rcvbuf) {
    return connect_from_with_rcvbuf(0, port, rcvbuf);
}

/* A blocking TCP connection to 127.0.0.1:port. */
static inline int connect_to(uint16_t port) { return connect_with_rcvbuf(port, 0); }

/* The next event of pull-mode server `s` is the arrival of a client (the
 * test has just connected one); returns its id. */
static inline uint64_t expect_connected(tcphub_server *s) {
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    uint64_t id = ev.client_id;
    tcphub_event_release(&ev);
    return id;
}

/* Skips pull-mode events of server `s` up to client `id`'s DISCONNECTED,
 * which must give `reason`. */
static inline void expect_disconnect(tcphub_server *s, uint64_t id, int reason) {
    tcphub_event ev;
    for (;;) {
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        int kind = ev.kind;
        uint64_t got = ev.client_id;
        int why = ev.reason;
        tcphub_event_release(&ev);
        if (kind == TCPHUB_EVENT_DISCONNECTED && got == id) {
            CHECK(why == reason);
            return;
        }
    }
}

/* The local port of a connected socket: what the server sees. */
static inline uint16_t local_port(int fd) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    return ntohs(addr.sin_port);
}

static inline void write_str(int fd, const char *s) {
    size_t len = strlen(s), done = 0;
    while (done < len) {
        ssize_t n = write(fd, s + done, len - done);
        CHECK(n > 0);
        done += (size_t)n;
    }
}

/* Reads one byte, waiting at most until `deadline`: 1 byte, 0 EOF, -1 timeout. */
static inline int read_byte(int fd, char *c, int64_t deadline) {
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left <= 0) return -1;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) continue;
        CHECK(r >= 0);
        if (r == 0) return -1;
        ssize_t n = read(fd, c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == ECONNRESET) return 0;
        CHECK(n >= 0);
        return (int)n;
    }
}

/* Reads a '\n'-terminated line (without the '\n') into buf; fails the test
 * on EOF or when nothing complete arrives within WAIT_MS. */
static inline void read_line(int fd, char *buf, size_t cap) {
    int64_t deadline = now_ms() + WAIT_MS;
    size_t len = 0;
    for (;;) {
        char c;
        int r = read_byte(fd, &c, deadline);
        if (r <= 0) {
            fprintf(stderr, "read_line: %s after \"%.*s\"\n", r == 0 ? "EOF" : "timeout",
                    (int)len, buf);
            exit(1);
        }
        if (c == '\n') break;
        CHECK(len + 1 < cap);
        buf[len++] = c;
    }
    buf[len] = '\0';
}

/* Checks that the next line on fd is exactly `want`. */
#define EXPECT_LINE(fd, want)                                                     \
    do {                                                                          \
        char line_[512];                                                          \
        read_line((fd), line_, sizeof line_);                                     \
        if (strcmp(line_, (want)) != 0) {                                         \
            fprintf(stderr, "%s:%d: read \"%s\", expected \"%s\"\n", __FILE__,     \
                    __LINE__, line_, (want));                                     \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

/* Checks that the peer closes the connection (EOF or reset) within WAIT_MS,
 * with no more data before it. */
static inline void expect_eof(int fd) {
    char c;
    int r = read_byte(fd, &c, now_ms() + WAIT_MS);
    if (r != 0) {
        fprintf(stderr, "expect_eof: got %s\n", r < 0 ? "timeout" : "data");
        exit(1);
    }
}

/* A plain server's end of a connection, read to the end on a thread of its
 * own: `pthread_create(&t, NULL, drain_thread, &d)` with `d = {fd, 0}`
 * reads until EOF, counting the bytes; read `bytes` after joining the
 * thread. A read error (a reset included) fails the test: a drain is for a
 * client that closes cleanly, whose bytes the test then counts. */
struct drain {
    int fd;
    size_t bytes;
};

static inline void *drain_thread(void *arg) {
    struct drain *d = arg;
    uint8_t buf[1 << 16]; /* not static: two drains may run at once */
    for (;;) {
        ssize_t n = read(d->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        CHECK(n >= 0);
        if (n == 0) return NULL;
        d->bytes += (size_t)n;
    }
}

/* A TCP socket bound to 127.0.0.1 on a port the system picks. */
static inline int bound_local(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    return fd;
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static inline uint16_t closed_port(void) {
    int fd = bound_local();
    uint16_t port = local_port(fd);
    close(fd);
    return port;
}

/* A socket bound to 127.0.0.1 on a port the system picks (stored in
 * *port), not listening: connections to the port are refused while it is
 * held, and no other socket (another test's server) can take the port
 * meanwhile. Close it when done. */
static inline int refusing_local(uint16_t *port) {
    int fd = bound_local();
    *port = local_port(fd);
    return fd;
}

/* The same for ::1 and `port`, for a name such as "localhost" that
 * resolves to both loopback addresses: -1 when ::1 cannot take the port
 * (no IPv6 here, or the port is in use there). */
static inline int refusing_local6(uint16_t port) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_in6 addr;
    memset(&addr, 0, sizeof addr);
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    addr.sin6_port = htons(port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A listening socket on 127.0.0.1 on a port the system picks: a plain
 * server that does only what the test tells it to. */
static inline int listen_local(uint16_t *port) {
    int fd = bound_local();
    CHECK(listen(fd, 4) == 0);
    *port = local_port(fd);
    return fd;
}

/* A client with options `o`, connected to a fresh plain server on
 * 127.0.0.1 that does not read (a 4 KiB receive buffer, so the client's
 * writes soon stall); returns the server's end of the connection. */
static inline int connect_stalled(const tcphub_client_options *o, tcphub_client **c) {
    uint16_t port;
    int l = listen_local(&port);
    int small = 4096; /* accepted sockets inherit it */
    CHECK(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", port, o, c));
    int fd = accept(l, NULL, NULL);
    CHECK(fd >= 0);
    close(l);
    return fd;
}

/* A server (not yet started) for 127.0.0.1 on a port the system picks. */
static inline tcphub_server *new_local_server(tcphub_framing framing) {
    tcphub_server *s = tcphub_server_new(0, 64);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    CHECK_OK(tcphub_server_set_framing(s, framing, 0));
    return s;
}

/* Set once flood_on_connect has queued its flood for a client. */
static inline atomic_int *flooded(void) {
    static atomic_int flag;
    return &flag;
}

/* An on_connect callback (userdata: the server) that queues 16 MiB for
 * every new client: far more than socket buffers hold, so a stop's flush
 * sticks until the client's socket is closed. */
static inline void flood_on_connect(void *ud, uint64_t id, const char *ip, uint16_t port) {
    (void)ip;
    (void)port;
    static uint8_t chunk[1 << 20];
    for (int i = 0; i < 16; i++) CHECK_OK(tcphub_server_send(ud, id, chunk, sizeof chunk));
    atomic_store(flooded(), 1);
}

/* An on_message callback that does nothing: a server in callback mode. */
static inline void ignore_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)ud;
    (void)id;
    (void)data;
    (void)len;
}

/* Big-endian 32-bit numbers (length prefixes, sequence numbers). */
static inline void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The server's counters now. */
static inline tcphub_stats stats_of(const tcphub_server *s) {
    tcphub_stats st;
    CHECK_OK(tcphub_server_stats(s, &st));
    return st;
}

/* This process's resident memory, KiB. */
static inline long rss_kib(void) {
    FILE *file = fopen("/proc/self/status", "r");
    CHECK(file != NULL);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, file))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(file);
    CHECK(kib >= 0);
    return kib;
}

/* The local port of an IPv6 socket. */
static inline uint16_t local_port6(int fd) {
    struct sockaddr_in6 addr;
    socklen_t len = sizeof addr;
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    return ntohs(addr.sin6_port);
}

#define TEST_PASS(name) printf("ok - %s\n", (name))

#endif /* TCPHUB_TEST_UTIL_H */
