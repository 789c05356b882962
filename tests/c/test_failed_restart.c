/* A restart that fails (an invalid setting, the port taken meanwhile)
 * leaves the stopped run as it was: tcphub_server_port still gives the
 * port of the last run, and the events queued at the stop can still be
 * taken, as the header promises for a stopped server. A later valid start
 * works as usual. */
#include "test_util.h"

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    int fd = connect_to(port);
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    write_str(fd, "queued\n"); /* left in the queue until after the stop */
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    CHECK_OK(tcphub_server_stop(s));
    expect_eof(fd);
    close(fd);

    CHECK_OK(tcphub_server_set_threads(s, 0));
    CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "threads") != NULL);
    CHECK(!tcphub_server_is_running(s));
    CHECK(tcphub_server_port(s) == port);
    TEST_PASS("a failed restart keeps the port of the last run");

    /* The line may or may not have been read before the stop; the stop's
     * DISCONNECTED is there either way. */
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    if (ev.kind == TCPHUB_EVENT_MESSAGE) {
        CHECK(ev.len == 6 && memcmp(ev.data, "queued", 6) == 0);
        tcphub_event_release(&ev);
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    }
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED);
    CHECK(ev.reason == TCPHUB_REASON_SERVER_STOPPED);
    tcphub_event_release(&ev);
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_NOT_RUNNING);
    TEST_PASS("a failed restart keeps the events queued at the stop");

    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_start(s));
    CHECK(tcphub_server_is_running(s));
    fd = connect_to(tcphub_server_port(s));
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("then a valid start works");
    return 0;
}
