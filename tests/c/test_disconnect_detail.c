/* tcphub_disconnect_detail(): the full text of a disconnect reason, where
 * the code alone says TCPHUB_REASON_IO for every I/O failure (a keepalive
 * timeout, an end in the middle of a frame, ...): inside on_disconnect, after
 * a disconnect event taken with tcphub_server_next_event or
 * tcphub_client_next_event, and after tcphub_client_disconnect_reason. */
#include "test_util.h"

static char detail[128];
static atomic_int reason = -1;

static void on_disconnect(void *ud, uint64_t id, int why) {
    (void)ud;
    (void)id;
    snprintf(detail, sizeof detail, "%s", tcphub_disconnect_detail());
    atomic_store(&reason, why);
}

/* A raw connection to `port` that sends the header of a 10-byte frame and
 * 3 of its bytes, then ends: an end in the middle of a frame. */
static void cut_frame(uint16_t port) {
    int fd = connect_to(port);
    const char part[] = {0, 0, 0, 10, 'a', 'b', 'c'};
    CHECK(write(fd, part, sizeof part) == (ssize_t)sizeof part);
    close(fd);
}

int main(void) {
    CHECK(strcmp(tcphub_disconnect_detail(), "") == 0);
    TEST_PASS("empty before any disconnect");

    /* In on_disconnect. */
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_on_disconnect(s, on_disconnect, NULL));
    CHECK_OK(tcphub_server_start(s));
    cut_frame(tcphub_server_port(s));
    WAIT_UNTIL(atomic_load(&reason) != -1);
    CHECK(atomic_load(&reason) == TCPHUB_REASON_IO);
    CHECK(strcmp(detail, "closed in the middle of a frame") == 0);
    CHECK(strcmp(tcphub_reason_str(TCPHUB_REASON_IO), "i/o error") == 0);
    tcphub_server_free(s);
    TEST_PASS("in on_disconnect: \"closed in the middle of a frame\" for TCPHUB_REASON_IO");

    /* Pull mode: after the event is taken, on the thread that took it. */
    s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_start(s));
    cut_frame(tcphub_server_port(s));
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED && ev.reason == TCPHUB_REASON_IO);
    CHECK(strcmp(tcphub_disconnect_detail(), "closed in the middle of a frame") == 0);
    tcphub_event_release(&ev);
    TEST_PASS("pull mode: after TCPHUB_EVENT_DISCONNECTED");

    /* A client: its disconnect event, and its final reason. */
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(s), TCPHUB_FRAMING_LENGTH_PREFIXED, 0, &c));
    CHECK_OK(tcphub_server_disconnect(s, expect_connected(s)));
    tcphub_client_event cev;
    CHECK_OK(tcphub_client_next_event(c, &cev, WAIT_MS));
    CHECK(cev.kind == TCPHUB_CLIENT_EVENT_DISCONNECTED && cev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
    CHECK(strcmp(tcphub_disconnect_detail(), "closed by peer") == 0);
    tcphub_client_event_release(&cev);
    int r = -1;
    CHECK_OK(tcphub_client_disconnect_reason(c, &r));
    CHECK(r == TCPHUB_REASON_CLOSED_BY_PEER);
    CHECK(strcmp(tcphub_disconnect_detail(), "closed by peer") == 0);
    tcphub_client_free(c);
    tcphub_server_free(s);
    TEST_PASS("a client: its disconnect event and tcphub_client_disconnect_reason");
    return 0;
}
