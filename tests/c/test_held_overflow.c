/* Pull mode: a client that finished sending is held open for replies after
 * its DISCONNECTED. When replies overflow its queue, what did not fit is
 * counted by the overflow policy: under TCPHUB_OVERFLOW_DISCONNECT in
 * tcphub_stats.undelivered (the hold ends; no slow consumer is counted),
 * under TCPHUB_OVERFLOW_DROP_MESSAGE in tcphub_stats.dropped, as anyone's
 * dropped messages (the hold goes on). */
#include "test_util.h"

#define CHUNK (256 * 1024)
#define CHUNKS 128 /* 32 MiB: far past the 1 MiB bound and the socket buffers */

static uint8_t chunk[CHUNK];

/* A connection to 127.0.0.1:port with a small receive buffer, so that the
 * server's writes stall soon while it does not read. */
static int connect_small(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    int size = 4096;
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    return fd;
}

/* Holds a client, overflows its queue under `policy`; returns the counters. */
static tcphub_stats overflow_held(int policy) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_max_queue_bytes(s, 1 << 20));
    CHECK_OK(tcphub_server_set_overflow(s, policy));
    CHECK_OK(tcphub_server_set_linger(s, 60000)); /* the hold outlasts the test */
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_small(tcphub_server_port(s));
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    uint64_t id = ev.client_id;
    tcphub_event_release(&ev);
    CHECK(shutdown(fd, SHUT_WR) == 0);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED);
    CHECK(ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
    tcphub_event_release(&ev);
    /* Held now, until the next call for events or the linger time. */
    for (int i = 0; i < CHUNKS; i++) {
        int rc = tcphub_server_send(s, id, chunk, sizeof chunk);
        CHECK(rc == TCPHUB_OK || rc == TCPHUB_ERR_NO_SUCH_CLIENT);
    }
    tcphub_stats st;
    WAIT_UNTIL(tcphub_server_stats(s, &st) == TCPHUB_OK && st.dropped + st.undelivered > 0);
    close(fd);
    tcphub_server_free(s);
    return st;
}

int main(void) {
    tcphub_stats st = overflow_held(TCPHUB_OVERFLOW_DISCONNECT);
    CHECK(st.undelivered > 0);
    CHECK(st.dropped == 0);
    CHECK(st.slow_consumers == 0);
    TEST_PASS("held client, DISCONNECT: the overflow counts as undelivered, no slow consumer");

    st = overflow_held(TCPHUB_OVERFLOW_DROP_MESSAGE);
    CHECK(st.dropped > 0);
    CHECK(st.undelivered == 0);
    CHECK(st.slow_consumers == 0);
    TEST_PASS("held client, DROP_MESSAGE: the overflow counts as dropped, not undelivered");
    return 0;
}
