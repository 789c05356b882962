/* tcphub_client_next_event: messages, a drop, the reconnect attempt and
 * its success (where a client logs in again), then the final close. */
#include "test_util.h"

static void echo(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    CHECK_OK(tcphub_server_send(ud, id, data, len));
}

static tcphub_client_event next(tcphub_client *c) {
    tcphub_client_event ev;
    CHECK_OK(tcphub_client_next_event(c, &ev, WAIT_MS));
    return ev;
}

int main(void) {
    tcphub_client_event ev;
    memset(&ev, 0xff, sizeof ev);
    CHECK_RC(tcphub_client_next_event(NULL, &ev, 0), TCPHUB_ERR_NULL);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_NONE && ev.message.data == NULL); /* zeroed */
    tcphub_client_event_release(NULL);
    tcphub_client_event_release(&ev);
    TEST_PASS("NULL arguments");

    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(s, echo, s));
    CHECK_OK(tcphub_server_start(s));
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.framing = TCPHUB_FRAMING_LINES;
    o.reconnect = true;
    o.reconnect_initial_ms = 10;
    o.reconnect_max_ms = 50;
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", tcphub_server_port(s), &o, &c));
    CHECK_RC(tcphub_client_next_event(c, &ev, 0), TCPHUB_ERR_TIMEOUT);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_NONE);
    CHECK_OK(tcphub_client_send(c, (const uint8_t *)"hi", 2));
    ev = next(c);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_MESSAGE);
    CHECK(ev.message.len == 2 && memcmp(ev.message.data, "hi", 2) == 0);
    tcphub_client_event_release(&ev);
    tcphub_client_event_release(&ev); /* twice is fine */
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_NONE && ev.message.data == NULL);
    TEST_PASS("a message");

    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    tcphub_client_info info;
    size_t n = 0;
    CHECK_OK(tcphub_server_clients(s, &info, 1, &n));
    CHECK(n == 1);
    CHECK_OK(tcphub_server_disconnect(s, info.client_id)); /* the client is dropped */
    ev = next(c);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_DISCONNECTED);
    CHECK(ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
    ev = next(c);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_RECONNECTING);
    CHECK(ev.attempt == 1 && ev.delay_ms <= 50);
    ev = next(c);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_RECONNECTED && ev.attempt == 1);
    CHECK(strcmp(ev.local_ip, "127.0.0.1") == 0);
    CHECK(ev.local_port == tcphub_client_local_port(c));
    TEST_PASS("a drop: DISCONNECTED, RECONNECTING, RECONNECTED with the new address");

    /* Logging in again after RECONNECTED reaches the new connection. */
    CHECK_OK(tcphub_client_send(c, (const uint8_t *)"login", 5));
    tcphub_message m;
    CHECK_OK(tcphub_client_recv(c, &m, WAIT_MS));
    CHECK(m.len == 5 && memcmp(m.data, "login", 5) == 0);
    tcphub_message_release(&m);
    CHECK_OK(tcphub_client_close(c));
    ev = next(c);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_DISCONNECTED);
    CHECK(ev.reason == TCPHUB_REASON_CLOSED_LOCALLY);
    ev = next(c);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_CLOSED);
    CHECK_RC(tcphub_client_next_event(c, &ev, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    tcphub_client_free(c);
    /* Gone from the server too: else it would stand for the next client
     * in the wait for that one to be counted. */
    WAIT_UNTIL(tcphub_server_client_count(s) == 0);
    TEST_PASS("close: DISCONNECTED (closed locally), CLOSED, then NOT_RUNNING");

    /* Reconnecting gives up after reconnect_max_attempts: the drop is
     * DISCONNECTED (closed by peer), the attempts fail, CLOSED comes last,
     * and the final reason is that reconnecting gave up, not the drop. */
    o.reconnect_max_attempts = 2;
    c = NULL;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", tcphub_server_port(s), &o, &c));
    int reason = 42;
    CHECK_OK(tcphub_client_disconnect_reason(c, &reason));
    CHECK(reason == -1);
    /* Accepted before the stop: a connection still in the accept backlog
     * when the listener closes is reset (TCPHUB_REASON_RESET), not closed. */
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    CHECK_OK(tcphub_server_stop(s)); /* nothing listens any more */
    ev = next(c);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_DISCONNECTED);
    CHECK(ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
    unsigned attempts = 0;
    for (ev = next(c); ev.kind == TCPHUB_CLIENT_EVENT_RECONNECTING; ev = next(c)) {
        CHECK(ev.attempt == ++attempts);
    }
    CHECK(attempts == 2);
    CHECK(ev.kind == TCPHUB_CLIENT_EVENT_CLOSED);
    CHECK(!tcphub_client_is_open(c));
    CHECK_OK(tcphub_client_disconnect_reason(c, &reason));
    CHECK(reason == TCPHUB_REASON_RECONNECT_GAVE_UP);
    tcphub_client_free(c);
    tcphub_server_free(s);
    TEST_PASS("reconnect gives up: CLOSED, disconnect_reason RECONNECT_GAVE_UP");
    return 0;
}
