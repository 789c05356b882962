/* tcphub_server_pending_events(): how many events wait in a pull-mode
 * server's queue, as Rust's events().len() — the consumer's backlog. Each
 * event taken lowers it by one; events queued at a stop count until taken;
 * NULL, a server never started and one with callbacks have none. */
#include "test_util.h"

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id;
    (void)data;
    (void)len;
    atomic_fetch_add((atomic_int *)ud, 1);
}

int main(void) {
    CHECK(tcphub_server_pending_events(NULL) == 0);
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK(tcphub_server_pending_events(s) == 0);
    CHECK_OK(tcphub_server_start(s));
    CHECK(tcphub_server_pending_events(s) == 0);
    TEST_PASS("NULL, never started, nothing yet: 0");

    /* A client connects and says two lines: three events wait. */
    int fd = connect_to(tcphub_server_port(s));
    write_str(fd, "one\ntwo\n");
    WAIT_UNTIL(tcphub_server_pending_events(s) == 3);
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    CHECK(tcphub_server_pending_events(s) == 2);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.len == 3 && memcmp(ev.data, "one", 3) == 0);
    tcphub_event_release(&ev);
    CHECK(tcphub_server_pending_events(s) == 1);
    TEST_PASS("counts the events waiting; each one taken lowers it");

    /* The stop queues the client's DISCONNECTED: two wait, taken after it. */
    CHECK_OK(tcphub_server_stop(s));
    CHECK(tcphub_server_pending_events(s) == 2);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_MESSAGE);
    tcphub_event_release(&ev);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED && ev.reason == TCPHUB_REASON_SERVER_STOPPED);
    tcphub_event_release(&ev);
    CHECK(tcphub_server_pending_events(s) == 0);
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_NOT_RUNNING);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("events queued at the stop count until taken");

    /* With callbacks nothing waits in a queue. */
    atomic_int messages = 0;
    tcphub_server *cb = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(cb, on_message, &messages));
    CHECK_OK(tcphub_server_start(cb));
    fd = connect_to(tcphub_server_port(cb));
    write_str(fd, "hi\n");
    WAIT_UNTIL(atomic_load(&messages) == 1);
    CHECK(tcphub_server_pending_events(cb) == 0);
    close(fd);
    tcphub_server_free(cb);
    TEST_PASS("callback mode: 0");
    return 0;
}
