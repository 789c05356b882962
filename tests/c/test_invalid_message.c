/* TCPHUB_FRAMING_LINES refuses a message containing '\n' with
 * TCPHUB_ERR_INVALID_MESSAGE, in every send (server and client), before
 * anything is queued: it used to be sent as it was and arrived as several
 * lines. A following valid send is the first thing the peers get. */
#include "test_util.h"

#define MSG(s) (const uint8_t *)(s), strlen(s)

int main(void) {
    CHECK(TCPHUB_ERR_INVALID_MESSAGE == -11);
    CHECK(strcmp(tcphub_strerror(TCPHUB_ERR_INVALID_MESSAGE), "unknown error code") != 0);
    TEST_PASS("TCPHUB_ERR_INVALID_MESSAGE is -11, with its own text");

    /* A pull-mode server: no callbacks, the test takes the events. */
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    int a = connect_to(port);
    uint64_t a_id = expect_connected(s);
    int b = connect_to(port);
    uint64_t b_id = expect_connected(s);

    size_t queued = 99;
    CHECK_RC(tcphub_server_send_all(s, MSG("a\nb"), &queued), TCPHUB_ERR_INVALID_MESSAGE);
    CHECK(queued == 0);
    CHECK(strstr(tcphub_last_error(), "tcphub_server_send_all") != NULL);
    CHECK(strstr(tcphub_last_error(), "newline") != NULL);
    CHECK(tcphub_last_errno() == 0);
    queued = 99;
    CHECK_RC(tcphub_server_send_all_except(s, a_id, MSG("x\n"), &queued),
             TCPHUB_ERR_INVALID_MESSAGE);
    CHECK(queued == 0);
    CHECK_RC(tcphub_server_send(s, b_id, MSG("hi\n")), TCPHUB_ERR_INVALID_MESSAGE);
    CHECK_RC(tcphub_server_send(s, b_id, MSG("\n")), TCPHUB_ERR_INVALID_MESSAGE);
    CHECK_RC(tcphub_server_send_to(s, "127.0.0.1", local_port(a), MSG("one\r\ntwo")),
             TCPHUB_ERR_INVALID_MESSAGE);
    TEST_PASS("server sends of a message with a newline: INVALID_MESSAGE");

    /* Nothing of those was queued: the next valid messages come first. A
     * '\r' is sent as it is (not refused). */
    CHECK_OK(tcphub_server_send_all(s, MSG("after"), &queued));
    CHECK(queued == 2);
    CHECK_OK(tcphub_server_send(s, b_id, MSG("cr\r")));
    EXPECT_LINE(a, "after");
    EXPECT_LINE(b, "after");
    EXPECT_LINE(b, "cr\r");
    TEST_PASS("nothing of the refused messages reached the clients");

    /* The client API. */
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LINES, 0, &c));
    (void)expect_connected(s);
    CHECK_RC(tcphub_client_send(c, MSG("x\ny")), TCPHUB_ERR_INVALID_MESSAGE);
    CHECK(strstr(tcphub_last_error(), "tcphub_client_send") != NULL);
    CHECK_RC(tcphub_client_send_timeout(c, MSG("\n"), 100), TCPHUB_ERR_INVALID_MESSAGE);
    CHECK(tcphub_client_queued_bytes(c) == 0);
    CHECK_OK(tcphub_client_send(c, MSG("fine")));
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_MESSAGE);
    CHECK(ev.len == 4 && memcmp(ev.data, "fine", 4) == 0);
    tcphub_event_release(&ev);
    tcphub_client_free(c);
    TEST_PASS("client sends of a message with a newline: INVALID_MESSAGE, nothing queued");

    close(a);
    close(b);
    CHECK_OK(tcphub_server_stop(s));
    tcphub_server_free(s);

    /* The notice for refused connections is checked the same way: a lines
     * server refuses to start with one holding a newline. */
    tcphub_server *full = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_full_message(full, MSG("full\n")));
    CHECK_RC(tcphub_server_start(full), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "newline") != NULL);
    CHECK_OK(tcphub_server_set_full_message(full, MSG("full")));
    CHECK_OK(tcphub_server_start(full));
    tcphub_server_free(full);
    TEST_PASS("full_message with a newline: start fails with INVALID_ARG");
    return 0;
}
