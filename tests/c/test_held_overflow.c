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


/* Holds a client, overflows its queue under `policy`; returns the counters. */
static tcphub_stats overflow_held(int policy) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_max_queue_bytes(s, 1 << 20));
    CHECK_OK(tcphub_server_set_overflow(s, policy));
    CHECK_OK(tcphub_server_set_linger(s, 60000)); /* the hold outlasts the test */
    CHECK_OK(tcphub_server_start(s));
    /* A small receive buffer: the server's writes stall soon. */
    int fd = connect_with_rcvbuf(tcphub_server_port(s), 4096);
    uint64_t id = expect_connected(s);
    tcphub_event ev;
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
