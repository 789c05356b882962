/* tcphub_server_stop_input: the first half of a two-phase shutdown. The
 * server reads no more input while sends and the queued events go on, so
 * the requests taken are answered before tcphub_server_stop. */
#include "test_util.h"

int main(void) {
    tcphub_event ev;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_RC(tcphub_server_stop_input(s), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "never started") != NULL);
    CHECK_RC(tcphub_server_stop_input(NULL), TCPHUB_ERR_NULL);
    TEST_PASS("refused before start and for NULL");

    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    uint64_t id = expect_connected(s);
    write_str(fd, "request 1\n");
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.client_id == id);
    tcphub_event_release(&ev);

    CHECK_OK(tcphub_server_stop_input(s));
    CHECK_OK(tcphub_server_stop_input(s)); /* idempotent */
    CHECK(tcphub_server_is_running(s));
    write_str(fd, "request 2\n"); /* never handed out */
    CHECK_OK(tcphub_server_send(s, id, (const uint8_t *)"answer 1", 8));
    EXPECT_LINE(fd, "answer 1");
    CHECK_RC(tcphub_server_next_event(s, &ev, 300), TCPHUB_ERR_TIMEOUT);
    TEST_PASS("answers still go out; no message is taken after it");

    CHECK_OK(tcphub_server_stop(s));
    expect_eof(fd);
    close(fd);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED);
    CHECK(ev.reason == TCPHUB_REASON_SERVER_STOPPED);
    tcphub_event_release(&ev);
    CHECK_OK(tcphub_server_stop_input(s)); /* stopped: harmless */
    TEST_PASS("the stop closes as usual");

    tcphub_server_free(s);
    return 0;
}
