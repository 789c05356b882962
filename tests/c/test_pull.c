/* Pull mode: a server without callbacks delivers CONNECTED, MESSAGE and
 * DISCONNECTED events through tcphub_server_next_event. */
#include "test_util.h"

int main(void) {
    tcphub_event ev;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_NOT_RUNNING);
    CHECK_OK(tcphub_server_start(s));

    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_TIMEOUT);
    CHECK(ev.kind == TCPHUB_EVENT_NONE && ev.data == NULL);
    CHECK_RC(tcphub_server_next_event(s, NULL, 0), TCPHUB_ERR_NULL);
    TEST_PASS("no event: TIMEOUT and a zeroed event");

    int fd = connect_to(tcphub_server_port(s));
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    CHECK(strcmp(ev.ip, "127.0.0.1") == 0);
    CHECK(ev.port == local_port(fd));
    CHECK(ev.data == NULL && ev.len == 0);
    uint64_t id = ev.client_id;
    tcphub_event_release(&ev);
    TEST_PASS("CONNECTED with ip and port");

    write_str(fd, "hi\nthere\n\n");
    const char *want[] = {"hi", "there", ""};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        CHECK(ev.kind == TCPHUB_EVENT_MESSAGE);
        CHECK(ev.client_id == id);
        CHECK(ev.len == strlen(want[i]));
        CHECK(ev.len == 0 ? ev.data == NULL : memcmp(ev.data, want[i], ev.len) == 0);
        tcphub_event_release(&ev);
        tcphub_event_release(&ev); /* twice is harmless */
        CHECK(ev.data == NULL && ev.kind == TCPHUB_EVENT_NONE);
    }
    TEST_PASS("MESSAGE events in order, the empty line included");

    CHECK_OK(tcphub_server_send(s, id, (const uint8_t *)"pong", 4));
    EXPECT_LINE(fd, "pong");
    close(fd);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED);
    CHECK(ev.client_id == id);
    CHECK(ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
    tcphub_event_release(&ev);
    TEST_PASS("DISCONNECTED with reason CLOSED_BY_PEER");

    /* A client that half-closes after its requests still gets the replies:
     * the connection is held until the next call for events. */
    fd = connect_to(tcphub_server_port(s));
    write_str(fd, "q1\nq2\n");
    CHECK(shutdown(fd, SHUT_WR) == 0);
    int replies = 0, ended = 0;
    while (!ended) {
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        if (ev.kind == TCPHUB_EVENT_MESSAGE) {
            CHECK_OK(tcphub_server_send(s, ev.client_id, ev.data, ev.len));
            replies++;
        }
        ended = ev.kind == TCPHUB_EVENT_DISCONNECTED;
        if (ended) CHECK(ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
        tcphub_event_release(&ev);
    }
    CHECK(replies == 2);
    EXPECT_LINE(fd, "q1");
    EXPECT_LINE(fd, "q2");
    expect_eof(fd);
    close(fd);
    TEST_PASS("half-closed client: replies to its last messages, then EOF");

    /* Events queued before a stop can still be taken after it. */
    fd = connect_to(tcphub_server_port(s));
    write_str(fd, "last words\n");
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.len == 10);
    tcphub_event_release(&ev);
    CHECK_OK(tcphub_server_stop(s));
    CHECK_OK(tcphub_server_next_event(s, &ev, -1)); /* no limit: ends by itself */
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED && ev.reason == TCPHUB_REASON_SERVER_STOPPED);
    tcphub_event_release(&ev);
    CHECK_RC(tcphub_server_next_event(s, &ev, -1), TCPHUB_ERR_NOT_RUNNING);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("after stop: remaining events, then NOT_RUNNING");

    /* A running server with callbacks has no events to pull: NOT_RUNNING,
     * and the detail says why rather than "not running". Once the
     * callbacks are removed, its next run is in pull mode. */
    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(s, ignore_message, NULL));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "callback") != NULL);
    CHECK_RC(tcphub_server_next_event(s, &ev, -1), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "callback") != NULL);
    CHECK_OK(tcphub_server_stop(s));
    CHECK_OK(tcphub_server_on_message(s, NULL, NULL));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_TIMEOUT);
    tcphub_server_free(s);
    TEST_PASS("callback mode: NOT_RUNNING that names the callbacks; pull mode after removing them");
    return 0;
}
