/* tcphub_server_set_hold_for_replies: a client that half-closed after its
 * request stays open for replies made later (another thread's), until
 * tcphub_server_disconnect — with callbacks and in pull mode. */
#include "test_util.h"

static atomic_uint_least64_t left_id;
static atomic_int left_reason = -1;
static atomic_int left_count;

static void on_left(void *ud, uint64_t id, int reason) {
    (void)ud;
    atomic_store(&left_id, id);
    atomic_store(&left_reason, reason);
    atomic_fetch_add(&left_count, 1);
}

static void on_request(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)ud;
    (void)id;
    (void)data;
    (void)len; /* answered later, from the main thread */
}

int main(void) {
    /* Callback mode: the answer comes after on_disconnect. */
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_hold_for_replies(s, 60000));
    CHECK_RC(tcphub_server_set_hold_for_replies(NULL, 1), TCPHUB_ERR_NULL);
    CHECK_OK(tcphub_server_on_message(s, on_request, NULL));
    CHECK_OK(tcphub_server_on_disconnect(s, on_left, NULL));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_set_hold_for_replies(s, 1), TCPHUB_ERR_ALREADY_RUNNING);
    int fd = connect_to(tcphub_server_port(s));
    write_str(fd, "request\n");
    CHECK(shutdown(fd, SHUT_WR) == 0);
    WAIT_UNTIL(atomic_load(&left_count) == 1);
    CHECK(atomic_load(&left_reason) == TCPHUB_REASON_CLOSED_BY_PEER);
    uint64_t id = atomic_load(&left_id);
    CHECK_OK(tcphub_server_send(s, id, (const uint8_t *)"answer", 6));
    EXPECT_LINE(fd, "answer");
    CHECK_OK(tcphub_server_disconnect(s, id));
    expect_eof(fd);
    close(fd);
    CHECK_OK(tcphub_server_stop(s));
    CHECK(atomic_load(&left_count) == 1);
    tcphub_server_free(s);
    TEST_PASS("callbacks: answered after on_disconnect, closed by disconnect");

    /* Pull mode: the next call for events does not end the hold. */
    tcphub_event ev;
    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_hold_for_replies(s, 60000));
    CHECK_OK(tcphub_server_start(s));
    fd = connect_to(tcphub_server_port(s));
    id = expect_connected(s);
    write_str(fd, "question\n");
    CHECK(shutdown(fd, SHUT_WR) == 0);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_MESSAGE);
    tcphub_event_release(&ev);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED && ev.client_id == id);
    tcphub_event_release(&ev);
    CHECK_RC(tcphub_server_next_event(s, &ev, 100), TCPHUB_ERR_TIMEOUT);
    CHECK_OK(tcphub_server_send(s, id, (const uint8_t *)"answer", 6));
    EXPECT_LINE(fd, "answer");
    CHECK_OK(tcphub_server_disconnect(s, id));
    expect_eof(fd);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("pull mode: held past the next call, closed by disconnect");
    return 0;
}
