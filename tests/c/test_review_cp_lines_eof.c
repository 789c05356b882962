/* The end of a peer's stream in the middle of a message, as the header
 * says for each framing: under TCPHUB_FRAMING_LINES the last line without
 * its `\n` is handed out as a message and the end is
 * TCPHUB_REASON_CLOSED_BY_PEER; under TCPHUB_FRAMING_LENGTH_PREFIXED the
 * frame cut short is dropped and the end is TCPHUB_REASON_IO. For a
 * pull-mode server and for the C client alike. */
#include "test_util.h"

static const uint8_t cut_frame[] = {0, 0, 0, 5, 'w', 'h', 'o', 'l', 'e', 0, 0, 0, 9, 'c', 'u', 't'};

/* Writes `data` on a fresh connection to the server and closes it (a FIN);
 * checks the messages and the end the server reports. */
static void server_side(tcphub_framing framing, const void *data, size_t len, const char *last,
                        int reason) {
    tcphub_server *s = new_local_server(framing);
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    uint64_t id = expect_connected(s);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
    const char *want[] = {"whole", last};
    int n = last ? 2 : 1;
    for (int i = 0; i < n; i++) {
        tcphub_event ev;
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.client_id == id);
        CHECK(ev.len == strlen(want[i]) && memcmp(ev.data, want[i], ev.len) == 0);
        tcphub_event_release(&ev);
    }
    expect_disconnect(s, id, reason);
    tcphub_server_free(s);
}

static void client_side(tcphub_framing framing, const void *data, size_t len, const char *last,
                        int reason) {
    uint16_t port;
    int l = listen_local(&port);
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, framing, 0, &c));
    int fd = accept(l, NULL, NULL);
    CHECK(fd >= 0);
    close(l);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
    const char *want[] = {"whole", last};
    int n = last ? 2 : 1;
    for (int i = 0; i < n; i++) {
        tcphub_client_event ev;
        CHECK_OK(tcphub_client_next_event(c, &ev, WAIT_MS));
        CHECK(ev.kind == TCPHUB_CLIENT_EVENT_MESSAGE);
        CHECK(ev.message.len == strlen(want[i]) && memcmp(ev.message.data, want[i], ev.message.len) == 0);
        tcphub_client_event_release(&ev);
    }
    tcphub_client_event ev;
    CHECK_OK(tcphub_client_next_event(c, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_DISCONNECTED && ev.reason == reason);
    tcphub_client_event_release(&ev);
    CHECK_OK(tcphub_client_next_event(c, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_CLOSED);
    int why = -2;
    CHECK_OK(tcphub_client_disconnect_reason(c, &why));
    CHECK(why == reason);
    tcphub_client_free(c);
}

int main(void) {
    server_side(TCPHUB_FRAMING_LINES, "whole\npartial", 13, "partial", TCPHUB_REASON_CLOSED_BY_PEER);
    client_side(TCPHUB_FRAMING_LINES, "whole\npartial", 13, "partial", TCPHUB_REASON_CLOSED_BY_PEER);
    TEST_PASS("lines: an unterminated last line is a message; the end is CLOSED_BY_PEER");
    server_side(TCPHUB_FRAMING_LENGTH_PREFIXED, cut_frame, sizeof cut_frame, NULL, TCPHUB_REASON_IO);
    client_side(TCPHUB_FRAMING_LENGTH_PREFIXED, cut_frame, sizeof cut_frame, NULL, TCPHUB_REASON_IO);
    TEST_PASS("length-prefixed: a frame cut short is dropped; the end is IO");
    return 0;
}
