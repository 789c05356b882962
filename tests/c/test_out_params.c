/* The header promises that a failing tcphub_server_next_event or
 * tcphub_client_recv leaves its out-parameter zeroed, so that releasing it
 * afterwards is always safe — also when the handle itself is NULL. */
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
    return 0;
}
