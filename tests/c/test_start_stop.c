/* Start/stop lifecycle: port 0 resolves, start twice is refused, stop is
 * idempotent and releases clients, a stopped server starts again, and every
 * _free/_release accepts NULL. */
#include "test_util.h"

int main(void) {
    /* NULL is a no-op for every release function. */
    tcphub_server_free(NULL);
    tcphub_client_free(NULL);
    tcphub_event_release(NULL);
    tcphub_message_release(NULL);
    CHECK(strlen(tcphub_version()) > 0);
    TEST_PASS("free(NULL) is a no-op");

    /* The header's version macros name the library it came with. */
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", TCPHUB_VERSION_MAJOR, TCPHUB_VERSION_MINOR,
             TCPHUB_VERSION_PATCH);
    CHECK(strcmp(tcphub_version(), want) == 0);
    TEST_PASS("TCPHUB_VERSION_* match tcphub_version()");

    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK(!tcphub_server_is_running(s));
    CHECK(tcphub_server_port(s) == 0);
    CHECK_RC(tcphub_server_stop(s), TCPHUB_OK); /* never started: fine */

    CHECK_OK(tcphub_server_start(s));
    CHECK(tcphub_server_is_running(s));
    uint16_t port = tcphub_server_port(s);
    CHECK(port != 0);
    CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_framing(s, TCPHUB_FRAMING_RAW, 0), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_threads(s, 1), TCPHUB_ERR_ALREADY_RUNNING);
    TEST_PASS("start binds an ephemeral port; second start refused");

    int fd = connect_to(port);
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    CHECK(ev.port == local_port(fd));
    tcphub_event_release(&ev);
    CHECK(tcphub_server_client_count(s) == 1);

    CHECK_OK(tcphub_server_stop(s));
    CHECK(!tcphub_server_is_running(s));
    CHECK_OK(tcphub_server_stop(s));
    expect_eof(fd);
    /* A send to the stopped server says it is stopped: "not running" read
     * like the never-started server's "the server was never started". */
    CHECK_RC(tcphub_server_send_all(s, (const uint8_t *)"x", 1, NULL), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "the server is stopped") != NULL);
    CHECK_RC(tcphub_server_send(s, 1, (const uint8_t *)"x", 1), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "the server is stopped") != NULL);
    close(fd);
    CHECK(tcphub_server_client_count(s) == 0);
    /* The stop's disconnect is still delivered after the stop. */
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED);
    CHECK(ev.reason == TCPHUB_REASON_SERVER_STOPPED);
    tcphub_event_release(&ev);
    CHECK_RC(tcphub_server_next_event(s, &ev, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    TEST_PASS("stop is idempotent, disconnects clients, drains events");

    /* Restart the same object. */
    CHECK_OK(tcphub_server_start(s));
    CHECK(tcphub_server_is_running(s));
    uint16_t port2 = tcphub_server_port(s);
    CHECK(port2 != 0);
    fd = connect_to(port2);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    close(fd);
    tcphub_server_free(s); /* stops first */
    TEST_PASS("a stopped server starts again; free stops it");

    /* Free a running server with a connected client and nothing else. */
    s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_start(s));
    fd = connect_to(tcphub_server_port(s));
    /* Accepted first: a connection still in the accept backlog would be
     * reset by the listener's close, and pass without any client closed. */
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    tcphub_server_free(s);
    expect_eof(fd);
    close(fd);
    TEST_PASS("free of a running server closes its clients");
    return 0;
}
