/* The header promises that a failing tcphub_server_next_event or
 * tcphub_client_recv leaves its out-parameter zeroed, so that releasing it
 * afterwards is always safe — also when the handle itself is NULL; and that
 * a failing tcphub_server_send_all reports 0 clients in queued_out. */
#include "test_util.h"

int main(void) {
    tcphub_event ev;
    memset(&ev, 0xAA, sizeof ev); /* what an uninitialised local may hold */
    CHECK_RC(tcphub_server_next_event(NULL, &ev, 0), TCPHUB_ERR_NULL);
    CHECK(ev.kind == TCPHUB_EVENT_NONE && ev.data == NULL && ev.len == 0);
    tcphub_event_release(&ev);
    TEST_PASS("next_event with a NULL server zeroes the event");

    tcphub_message msg;
    memset(&msg, 0xAA, sizeof msg);
    CHECK_RC(tcphub_client_recv(NULL, &msg, 0), TCPHUB_ERR_NULL);
    CHECK(msg.data == NULL && msg.len == 0);
    tcphub_message_release(&msg);
    TEST_PASS("client_recv with a NULL client zeroes the message");

    /* send_all that queues for nobody says 0, whatever the reason. */
    const uint8_t *x = (const uint8_t *)"x";
    size_t queued = 12345;
    CHECK_RC(tcphub_server_send_all(NULL, x, 1, &queued), TCPHUB_ERR_NULL);
    CHECK(queued == 0);
    queued = 12345;
    CHECK_RC(tcphub_server_send_all_except(NULL, 1, x, 1, &queued), TCPHUB_ERR_NULL);
    CHECK(queued == 0);
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    queued = 12345;
    CHECK_RC(tcphub_server_send_all(s, x, 1, &queued), TCPHUB_ERR_NOT_RUNNING);
    CHECK(queued == 0);
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 4));
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    queued = 12345;
    CHECK_RC(tcphub_server_send_all(s, (const uint8_t *)"too long", 8, &queued),
             TCPHUB_ERR_FRAME_TOO_LARGE);
    CHECK(queued == 0);
    queued = 12345;
    CHECK_RC(tcphub_server_send_all_except(s, 1, (const uint8_t *)"too long", 8, &queued),
             TCPHUB_ERR_FRAME_TOO_LARGE);
    CHECK(queued == 0);
    queued = 12345;
    CHECK_RC(tcphub_server_send_all(s, x, SIZE_MAX, &queued), TCPHUB_ERR_INVALID_ARG);
    CHECK(queued == 0);
    CHECK_OK(tcphub_server_send_all(s, x, 1, &queued));
    CHECK(queued == 1);
    CHECK_OK(tcphub_server_stop(s));
    queued = 12345;
    CHECK_RC(tcphub_server_send_all(s, x, 1, &queued), TCPHUB_ERR_NOT_RUNNING);
    CHECK(queued == 0);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("a failing send_all or send_all_except stores 0 in queued_out");
    return 0;
}
