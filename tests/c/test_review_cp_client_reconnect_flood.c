/* The C client with reconnect on, against a server that floods each
 * connection and then ends it (cleanly, or with a reset once everything
 * was acknowledged), while the application takes events slowly through a
 * small queue: each connection's messages all come, in order, before its
 * DISCONNECTED, then RECONNECTING and RECONNECTED, and the next
 * connection's messages after that; CLOSED comes last, after the close. */
#include "test_util.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#define CONNECTIONS 3
#define FLOOD 15000
#ifndef CAPACITY
#define CAPACITY 8
#endif

struct server {
    int listener;
    int reset; /* end each connection with a reset once all was acknowledged */
};

static void *server_thread(void *arg) {
    struct server *sv = arg;
    uint8_t buf[32 * 1024];
    for (uint32_t conn = 0; conn < CONNECTIONS; conn++) {
        int fd = accept(sv->listener, NULL, NULL);
        CHECK(fd >= 0);
        size_t used = 0;
        for (uint32_t seq = 0; seq <= FLOOD; seq++) {
            if (seq == FLOOD || used + 12 + 101 > sizeof buf) {
                size_t off = 0;
                while (off < used) {
                    ssize_t n = send(fd, buf + off, used - off, MSG_NOSIGNAL);
                    CHECK(n > 0);
                    off += (size_t)n;
                }
                used = 0;
                if (seq == FLOOD) break;
            }
            uint32_t filler = seq % 101;
            put_be32(buf + used, 8 + filler);
            put_be32(buf + used + 4, conn);
            put_be32(buf + used + 8, seq);
            memset(buf + used + 12, 'c', filler);
            used += 12 + filler;
        }
        if (sv->reset) {
            /* Everything acknowledged (so in the client's buffers), then
             * a reset. */
            int64_t deadline = now_ms() + WAIT_MS;
            int unacked = 1;
            while (unacked > 0) {
                CHECK(ioctl(fd, SIOCOUTQ, &unacked) == 0);
                CHECK(now_ms() < deadline);
                if (unacked > 0) nap_ms(1);
            }
            struct linger lg = {1, 0};
            CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
        }
        close(fd);
    }
    return NULL;
}

static void run(int reset) {
    uint16_t port;
    struct server sv = {listen_local(&port), reset};
    /* A big receive buffer on the client's side is not needed: the
     * server's send buffer holds what the client's does not. */
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.framing = TCPHUB_FRAMING_LENGTH_PREFIXED;
    o.event_capacity = CAPACITY;
    o.reconnect = true;
    o.reconnect_initial_ms = 10;
    o.reconnect_max_ms = 50;
    o.linger_ms = 0;
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", port, &o, &c));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, server_thread, &sv) == 0);

    uint32_t conn = 0, next = 0;
    int state = 0; /* 0 messages, 1 after DISCONNECTED, 2 after RECONNECTING */
    uint64_t taken = 0;
    int64_t deadline = now_ms() + 600000; /* generous: valgrind on a loaded machine took over 120 s */
    int closing = 0;
    for (;;) {
        CHECK(now_ms() < deadline);
        tcphub_client_event ev;
        int rc = tcphub_client_next_event(c, &ev, WAIT_MS);
        if (rc == TCPHUB_ERR_NOT_RUNNING) break;
        CHECK_OK(rc);
        if (++taken % 1000 == 0) nap_ms(2); /* slowness, not synchronisation */
        switch (ev.kind) {
        case TCPHUB_CLIENT_EVENT_MESSAGE: {
            CHECK(state == 0 && ev.message.len >= 8);
            uint32_t got_conn = get_be32(ev.message.data), seq = get_be32(ev.message.data + 4);
            if (got_conn != conn || seq != next) {
                fprintf(stderr, "message %u/%u where %u/%u was due\n", got_conn, seq, conn, next);
                exit(1);
            }
            next++;
            break;
        }
        case TCPHUB_CLIENT_EVENT_DISCONNECTED:
            CHECK(state == 0);
            if (next != FLOOD) {
                fprintf(stderr, "connection %u: %u of %u messages before its end (reason %d)\n",
                        conn, next, FLOOD, ev.reason);
                exit(1);
            }
            CHECK(ev.reason == (reset ? TCPHUB_REASON_RESET : TCPHUB_REASON_CLOSED_BY_PEER));
            state = 1;
            if (conn + 1 == CONNECTIONS) {
                /* The last one: close instead of waiting for a server that
                 * will not answer again. */
                closing = 1;
                CHECK_OK(tcphub_client_close(c));
            }
            break;
        case TCPHUB_CLIENT_EVENT_RECONNECTING:
            CHECK(state == 1 || state == 2);
            state = 2;
            break;
        case TCPHUB_CLIENT_EVENT_RECONNECTED:
            CHECK(state == 2 && !closing);
            state = 0;
            conn++;
            next = 0;
            break;
        case TCPHUB_CLIENT_EVENT_CLOSED:
            CHECK(closing);
            break;
        default:
            CHECK(0);
        }
        tcphub_client_event_release(&ev);
    }
    CHECK(conn + 1 == CONNECTIONS && closing);
    CHECK(pthread_join(t, NULL) == 0);
    close(sv.listener);
    tcphub_client_free(c);
}

int main(void) {
    run(0);
    TEST_PASS("reconnect under a flood: each connection's messages whole and in order, then "
              "its end (clean), then the next connection's");
    run(1);
    TEST_PASS("the same when each connection ends with a reset after all was acknowledged");
    return 0;
}
