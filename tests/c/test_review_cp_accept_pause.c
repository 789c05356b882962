/* tcphub_server_set_event_capacity's words on what comes past a full
 * queue: once 1,024 events wait for room, no new connection is accepted
 * (it waits in the listen backlog, its connect succeeding) until the
 * application takes events; then it is admitted and reported. A stop
 * meanwhile closes the listener without admitting it (no event for it). */
#include "test_util.h"

static uint64_t accepted(tcphub_server *s) {
    tcphub_stats st;
    CHECK_OK(tcphub_server_stats(s, &st));
    return st.accepted;
}

/* A server with a queue of 4 and one client that sent 30,000 lines in one
 * go: 4 in the queue, the rest (far past 1,024) waiting for room. */
static tcphub_server *full_server(int *a) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_set_event_capacity(s, 4));
    CHECK_OK(tcphub_server_start(s));
    *a = connect_to(tcphub_server_port(s));
    static char lines[60000];
    for (size_t i = 0; i < sizeof lines; i += 2) {
        lines[i] = 'x';
        lines[i + 1] = '\n';
    }
    size_t off = 0;
    while (off < sizeof lines) {
        ssize_t n = write(*a, lines + off, sizeof lines - off);
        CHECK(n > 0);
        off += (size_t)n;
    }
    /* Read (the queue full) and past 1,024 waiting: the server has read
     * more than 2,048 lines (two bytes each). */
    WAIT_UNTIL(tcphub_server_pending_events(s) == 4 && stats_of(s).bytes_in >= 4096);
    return s;
}

int main(void) {
    int a;
    tcphub_server *s = full_server(&a);
    int b = connect_to(tcphub_server_port(s)); /* the kernel completes it */
    nap_ms(300); /* a look after a while: not accepted meanwhile */
    CHECK(accepted(s) == 1);
    /* Taking events makes room: b is admitted and reported, after a's
     * lines. */
    uint64_t b_id = 0;
    int64_t deadline = now_ms() + WAIT_MS;
    while (b_id == 0) {
        CHECK(now_ms() < deadline);
        tcphub_event ev;
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        if (ev.kind == TCPHUB_EVENT_CONNECTED && ev.port == local_port(b)) b_id = ev.client_id;
        tcphub_event_release(&ev);
    }
    CHECK(accepted(s) == 2);
    tcphub_server_free(s);
    close(a);
    close(b);
    TEST_PASS("past a full queue with 1,024 events waiting, a new connection waits in the "
              "listen backlog until events are taken, then is admitted");

    s = full_server(&a);
    b = connect_to(tcphub_server_port(s));
    nap_ms(300);
    CHECK(accepted(s) == 1);
    tcphub_server_stop(s);
    expect_eof(b); /* closed with the listener (an EOF or a reset) */
    CHECK(accepted(s) == 1);
    tcphub_event ev;
    int rc, arrivals = 0;
    while ((rc = tcphub_server_next_event(s, &ev, 0)) == TCPHUB_OK) {
        arrivals += ev.kind == TCPHUB_EVENT_CONNECTED;
        tcphub_event_release(&ev);
    }
    CHECK_RC(rc, TCPHUB_ERR_NOT_RUNNING);
    CHECK(arrivals == 1);
    tcphub_server_free(s);
    close(a);
    close(b);
    TEST_PASS("a stop meanwhile closes the listener with that connection unadmitted, unreported");
    return 0;
}
