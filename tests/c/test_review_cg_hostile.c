/* Review cg: every public function with hostile arguments — NULL handles,
 * NULL buffers with a length, lengths no object has, out-of-range values
 * passed as int, and the largest timeouts a uint64_t can say. The header
 * promises that NULL or invalid arguments "return an error code; they
 * never crash" and that no panic crosses into C: each call here must
 * return (an error code or its documented value) and the library must go
 * on working afterwards. Run under ASan+UBSan by scripts/test-c.sh. */
#include "test_util.h"

#include <limits.h>

/* A code that is an error (negative), and not a caught panic: a panic is a
 * bug inside tcphub, never the answer to a bad argument. */
#define CHECK_ERR(expr)                                                              \
    do {                                                                             \
        int rc_ = (expr);                                                            \
        if (rc_ >= 0 || rc_ == TCPHUB_ERR_PANIC) {                                   \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected an error code\n"  \
                            "  tcphub_last_error: %s\n",                             \
                    __FILE__, __LINE__, #expr, rc_, tcphub_strerror(rc_),            \
                    tcphub_last_error());                                            \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* Not a caught panic (any other code is a matter of the call's contract). */
#define CHECK_NO_PANIC(expr)                                                     \
    do {                                                                         \
        int rc_ = (expr);                                                        \
        if (rc_ == TCPHUB_ERR_PANIC) {                                           \
            fprintf(stderr, "%s:%d: %s panicked\n  tcphub_last_error: %s\n",     \
                    __FILE__, __LINE__, #expr, tcphub_last_error());             \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static void null_handles(void) {
    const uint8_t *x = (const uint8_t *)"x";
    uint64_t id = 1;
    size_t n = 7;
    char ip[TCPHUB_IP_LEN];
    uint16_t port = 7;
    int reason = 7;
    tcphub_message msg;
    tcphub_event ev;
    tcphub_client_event cev;
    tcphub_client_info info;
    tcphub_stats stats;
    tcphub_ready_fd *ready = NULL;
    tcphub_client *c = NULL;

    CHECK_ERR(tcphub_client_close(NULL));
    CHECK_ERR(tcphub_client_close_timeout(NULL, 0));
    CHECK_ERR(tcphub_client_connect(NULL, 1, TCPHUB_FRAMING_RAW, 0, &c));
    CHECK(c == NULL);
    CHECK_ERR(tcphub_client_connect("127.0.0.1", 1, TCPHUB_FRAMING_RAW, 0, NULL));
    CHECK_ERR(tcphub_client_connect_with(NULL, 1, NULL, &c));
    CHECK_ERR(tcphub_client_connect_with("127.0.0.1", 1, NULL, &c));
    CHECK_ERR(tcphub_client_connect_with("127.0.0.1", 1, NULL, NULL));
    CHECK_ERR(tcphub_client_disconnect_reason(NULL, &reason));
    tcphub_client_event_release(NULL);
    CHECK_ERR(tcphub_client_flush(NULL, 0));
    CHECK(tcphub_client_flush_mark(NULL) == 0);
    CHECK_ERR(tcphub_client_flush_to(NULL, 0, 0));
    tcphub_client_free(NULL);
    CHECK(!tcphub_client_is_connected(NULL));
    CHECK(!tcphub_client_is_open(NULL));
    CHECK_ERR(tcphub_client_local_addr(NULL, ip, &port));
    CHECK_ERR(tcphub_client_local_addr(NULL, NULL, NULL));
    CHECK(tcphub_client_local_port(NULL) == 0);
    CHECK_ERR(tcphub_client_next_event(NULL, &cev, 0));
    tcphub_client_event_release(&cev);
    CHECK_ERR(tcphub_client_next_event(NULL, NULL, 0));
    tcphub_client_options_init(NULL);
    CHECK_ERR(tcphub_client_peer_addr(NULL, ip, &port));
    CHECK(tcphub_client_queued_bytes(NULL) == 0);
    CHECK_ERR(tcphub_client_ready_fd(NULL, &ready));
    CHECK(ready == NULL);
    CHECK_ERR(tcphub_client_ready_fd(NULL, NULL));
    CHECK_ERR(tcphub_client_recv(NULL, &msg, 0));
    tcphub_message_release(&msg);
    CHECK_ERR(tcphub_client_recv(NULL, NULL, 0));
    CHECK_ERR(tcphub_client_send(NULL, x, 1));
    CHECK_ERR(tcphub_client_send_timeout(NULL, x, 1, 0));
    CHECK_ERR(tcphub_client_shutdown_write(NULL));
    CHECK(tcphub_client_unacknowledged_bytes(NULL) == -1);
    CHECK(tcphub_client_unsent(NULL) == 0);
    CHECK_ERR(tcphub_connect_cancel_cancel(NULL));
    tcphub_connect_cancel_free(NULL);
    CHECK(!tcphub_connect_cancel_is_cancelled(NULL));
    CHECK(tcphub_disconnect_detail() != NULL);
    tcphub_event_release(NULL);
    tcphub_message_release(NULL);
    CHECK_ERR(tcphub_ready_fd_arm(NULL));
    CHECK(tcphub_ready_fd_fileno(NULL) == -1);
    tcphub_ready_fd_free(NULL);
    CHECK(tcphub_reason_str(INT_MIN) != NULL && tcphub_reason_str(INT_MAX) != NULL);
    CHECK(tcphub_strerror(INT_MIN) != NULL && tcphub_strerror(INT_MAX) != NULL);

    CHECK_ERR(tcphub_server_begin_stop(NULL));
    CHECK(tcphub_server_client_count(NULL) == 0);
    CHECK_ERR(tcphub_server_client_info(NULL, 1, &info));
    CHECK_ERR(tcphub_server_client_info(NULL, 1, NULL));
    CHECK_ERR(tcphub_server_clients(NULL, &info, 1, &n));
    CHECK(n == 0);
    CHECK_ERR(tcphub_server_clients(NULL, NULL, 0, NULL));
    CHECK_ERR(tcphub_server_disconnect(NULL, 1));
    tcphub_server_free(NULL);
    CHECK(!tcphub_server_input_paused(NULL));
    CHECK(!tcphub_server_is_running(NULL));
    CHECK_ERR(tcphub_server_local_addr(NULL, ip, &port));
    CHECK_ERR(tcphub_server_next_event(NULL, &ev, 0));
    tcphub_event_release(&ev);
    CHECK_ERR(tcphub_server_next_event(NULL, NULL, 0));
    CHECK_ERR(tcphub_server_on_connect(NULL, NULL, NULL));
    CHECK_ERR(tcphub_server_on_disconnect(NULL, NULL, NULL));
    CHECK_ERR(tcphub_server_on_message(NULL, NULL, NULL));
    CHECK_ERR(tcphub_server_pause_client(NULL, 1));
    CHECK_ERR(tcphub_server_pause_input(NULL));
    CHECK(tcphub_server_pending_events(NULL) == 0);
    CHECK(tcphub_server_port(NULL) == 0);
    CHECK_ERR(tcphub_server_ready_fd(NULL, &ready));
    CHECK_ERR(tcphub_server_resume_client(NULL, 1));
    CHECK_ERR(tcphub_server_resume_input(NULL));
    CHECK_ERR(tcphub_server_send(NULL, 1, x, 1));
    CHECK_ERR(tcphub_server_send_all(NULL, x, 1, &n));
    CHECK_ERR(tcphub_server_send_all_except(NULL, 1, x, 1, &n));
    CHECK_ERR(tcphub_server_send_many(NULL, &id, 1, x, 1, &n));
    CHECK_ERR(tcphub_server_send_to(NULL, "127.0.0.1", 1, x, 1));
    CHECK_ERR(tcphub_server_set_backlog(NULL, 1));
    CHECK_ERR(tcphub_server_set_bind_ip(NULL, "127.0.0.1"));
    CHECK_ERR(tcphub_server_set_busy_poll(NULL, 0));
    CHECK_ERR(tcphub_server_set_event_capacity(NULL, 1));
    CHECK_ERR(tcphub_server_set_frame_timeout(NULL, 1));
    CHECK_ERR(tcphub_server_set_frame_timeout_message(NULL, x, 1));
    CHECK_ERR(tcphub_server_set_frame_too_large_message(NULL, x, 1));
    CHECK_ERR(tcphub_server_set_framing(NULL, TCPHUB_FRAMING_RAW, 0));
    CHECK_ERR(tcphub_server_set_full_message(NULL, x, 1));
    CHECK_ERR(tcphub_server_set_hold_for_replies(NULL, 1));
    CHECK_ERR(tcphub_server_set_idle_timeout(NULL, 1));
    CHECK_ERR(tcphub_server_set_idle_timeout_message(NULL, x, 1));
    CHECK_ERR(tcphub_server_set_keepalive(NULL, 1));
    CHECK_ERR(tcphub_server_set_linger(NULL, 1));
    CHECK_ERR(tcphub_server_set_max_clients_per_ip(NULL, 1));
    CHECK_ERR(tcphub_server_set_max_queue_bytes(NULL, 1));
    CHECK_ERR(tcphub_server_set_nodelay(NULL, true));
    CHECK_ERR(tcphub_server_set_overflow(NULL, TCPHUB_OVERFLOW_DISCONNECT));
    CHECK_ERR(tcphub_server_set_per_ip_full_message(NULL, x, 1));
    CHECK_ERR(tcphub_server_set_per_ip_ipv6_prefix(NULL, 64));
    CHECK_ERR(tcphub_server_set_threads(NULL, 1));
    CHECK_ERR(tcphub_server_set_userdata_free(NULL, NULL));
    CHECK_ERR(tcphub_server_start(NULL));
    CHECK_ERR(tcphub_server_stats(NULL, &stats));
    CHECK_ERR(tcphub_server_stop(NULL));
    CHECK_ERR(tcphub_server_stop_input(NULL));
    CHECK_ERR(tcphub_server_stop_timeout(NULL, 0));
    CHECK_ERR(tcphub_server_wait(NULL, 0));
    CHECK(tcphub_version() != NULL && tcphub_last_error() != NULL);
    (void)tcphub_last_errno();
    (void)tcphub_last_gai_error();
    TEST_PASS("NULL handles and out-parameters: error codes, no crash");
}

/* A server not started: hostile values for each setter. */
static void server_setters(void) {
    const uint8_t *x = (const uint8_t *)"x";
    tcphub_server *s = tcphub_server_new(0, SIZE_MAX);
    CHECK(s != NULL);
    tcphub_server_free(s);
    s = tcphub_server_new(0, 0);
    if (s != NULL) tcphub_server_free(s);
    s = tcphub_server_new(0, 8);
    CHECK(s != NULL);

    CHECK_ERR(tcphub_server_set_framing(s, -1, 0));
    CHECK_ERR(tcphub_server_set_framing(s, INT_MAX, 0));
    CHECK_ERR(tcphub_server_set_framing(s, INT_MIN, 0));
    CHECK_NO_PANIC(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, SIZE_MAX));
    CHECK_NO_PANIC(tcphub_server_set_framing(s, TCPHUB_FRAMING_LENGTH_PREFIXED, SIZE_MAX));
    CHECK_ERR(tcphub_server_set_overflow(s, -1));
    CHECK_ERR(tcphub_server_set_overflow(s, INT_MAX));
    CHECK_NO_PANIC(tcphub_server_set_backlog(s, -1));
    CHECK_NO_PANIC(tcphub_server_set_backlog(s, INT_MIN));
    CHECK_NO_PANIC(tcphub_server_set_backlog(s, INT_MAX));
    CHECK_NO_PANIC(tcphub_server_set_per_ip_ipv6_prefix(s, UINT_MAX));
    CHECK_NO_PANIC(tcphub_server_set_per_ip_ipv6_prefix(s, 129));
    CHECK_ERR(tcphub_server_set_bind_ip(s, ""));
    CHECK_ERR(tcphub_server_set_bind_ip(s, "\xff\xfe"));
    CHECK_ERR(tcphub_server_set_full_message(s, NULL, 1));
    CHECK_ERR(tcphub_server_set_full_message(s, x, SIZE_MAX));
    CHECK_NO_PANIC(tcphub_server_set_full_message(s, NULL, 0));
    CHECK_ERR(tcphub_server_set_per_ip_full_message(s, x, (size_t)-1));
    CHECK_ERR(tcphub_server_set_idle_timeout_message(s, NULL, 3));
    CHECK_ERR(tcphub_server_set_frame_timeout_message(s, x, SIZE_MAX));
    CHECK_ERR(tcphub_server_set_frame_too_large_message(s, NULL, 9));
    CHECK_NO_PANIC(tcphub_server_on_connect(s, NULL, NULL));
    CHECK_NO_PANIC(tcphub_server_set_threads(s, SIZE_MAX));
    CHECK_NO_PANIC(tcphub_server_set_event_capacity(s, SIZE_MAX));
    CHECK_NO_PANIC(tcphub_server_set_event_capacity(s, 0));
    CHECK_NO_PANIC(tcphub_server_set_max_queue_bytes(s, SIZE_MAX));
    CHECK_NO_PANIC(tcphub_server_set_max_clients_per_ip(s, SIZE_MAX));
    CHECK_NO_PANIC(tcphub_server_set_busy_poll(s, UINT64_MAX));
    CHECK_NO_PANIC(tcphub_server_set_keepalive(s, UINT64_MAX));
    CHECK_NO_PANIC(tcphub_server_set_linger(s, UINT64_MAX));
    CHECK_NO_PANIC(tcphub_server_set_hold_for_replies(s, UINT64_MAX));
    CHECK_NO_PANIC(tcphub_server_set_idle_timeout(s, UINT64_MAX));
    CHECK_NO_PANIC(tcphub_server_set_frame_timeout(s, UINT64_MAX));
    CHECK_NO_PANIC(tcphub_server_stop_timeout(s, UINT64_MAX));
    CHECK_NO_PANIC(tcphub_server_wait(s, INT_MIN));
    CHECK_NO_PANIC(tcphub_server_wait(s, INT_MAX));
    tcphub_server_free(s);
    TEST_PASS("setters with out-of-range values: error codes or accepted, no panic");
}

/* A running server and a client, with the largest timeouts and hostile
 * buffers; afterwards both still work. */
static void running(void) {
    const uint8_t *x = (const uint8_t *)"x";
    size_t n = 5;
    uint64_t ids[2] = {1, 2};
    tcphub_server *s = tcphub_server_new(0, 8);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0));
    CHECK_OK(tcphub_server_set_linger(s, UINT64_MAX));
    CHECK_OK(tcphub_server_set_idle_timeout(s, UINT64_MAX));
    CHECK_OK(tcphub_server_set_frame_timeout(s, UINT64_MAX));
    CHECK_OK(tcphub_server_set_keepalive(s, 32767000)); /* the most (see the header) */
    CHECK_NO_PANIC(tcphub_server_set_hold_for_replies(s, UINT64_MAX));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);

    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.framing = TCPHUB_FRAMING_LINES;
    o.connect_timeout_ms = UINT64_MAX;
    o.linger_ms = UINT64_MAX;
    o.keepalive_ms = 32767000;
    o.reconnect = true;
    o.reconnect_initial_ms = UINT64_MAX;
    o.reconnect_max_ms = UINT64_MAX;
    o.max_queue_bytes = SIZE_MAX;
    o.event_capacity = SIZE_MAX;
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", port, &o, &c));
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);

    CHECK_ERR(tcphub_client_send(c, NULL, 1));
    CHECK_ERR(tcphub_client_send(c, x, SIZE_MAX));
    CHECK_ERR(tcphub_client_send(c, x, (size_t)PTRDIFF_MAX + 1));
    CHECK_NO_PANIC(tcphub_client_send_timeout(c, x, 1, UINT64_MAX));
    CHECK_NO_PANIC(tcphub_client_flush(c, UINT64_MAX));
    CHECK_NO_PANIC(tcphub_client_flush_to(c, UINT64_MAX, 0));
    CHECK_NO_PANIC(tcphub_client_flush_to(c, 0, UINT64_MAX));
    CHECK_ERR(tcphub_client_local_addr(c, NULL, NULL));
    CHECK_ERR(tcphub_client_peer_addr(c, NULL, NULL));
    CHECK_ERR(tcphub_client_disconnect_reason(c, NULL));
    CHECK_ERR(tcphub_client_recv(c, NULL, 0));
    CHECK_ERR(tcphub_client_next_event(c, NULL, 0));
    CHECK_ERR(tcphub_client_ready_fd(c, NULL));

    CHECK_ERR(tcphub_server_send(s, UINT64_MAX, x, 1));
    CHECK_ERR(tcphub_server_send(s, 0, x, 1));
    CHECK_ERR(tcphub_server_send_all(s, NULL, 2, &n));
    CHECK_ERR(tcphub_server_send_all(s, x, SIZE_MAX, &n));
    CHECK_ERR(tcphub_server_send_many(s, NULL, 2, x, 1, &n));
    CHECK_ERR(tcphub_server_send_many(s, ids, SIZE_MAX, x, 1, &n));
    CHECK_ERR(tcphub_server_send_many(s, ids, 2, NULL, 1, &n));
    CHECK_ERR(tcphub_server_send_to(s, "", 1, x, 1));
    CHECK_ERR(tcphub_server_send_to(s, "\xc3\x28", 1, x, 1));
    CHECK_ERR(tcphub_server_send_to(s, "127.0.0.1", 0, x, SIZE_MAX));
    CHECK_ERR(tcphub_server_clients(s, NULL, 5, &n));
    CHECK_ERR(tcphub_server_clients(s, NULL, 0, NULL));
    CHECK_ERR(tcphub_server_client_info(s, 1, NULL));
    CHECK_ERR(tcphub_server_local_addr(s, NULL, NULL));
    CHECK_ERR(tcphub_server_stats(s, NULL));
    CHECK_ERR(tcphub_server_ready_fd(s, NULL));
    CHECK_ERR(tcphub_server_next_event(s, NULL, 0));
    CHECK_ERR(tcphub_server_pause_client(s, UINT64_MAX));
    CHECK_ERR(tcphub_server_resume_client(s, UINT64_MAX));
    CHECK_ERR(tcphub_server_disconnect(s, UINT64_MAX));

    /* Still working: a line goes through both ways. */
    CHECK_OK(tcphub_client_send(c, (const uint8_t *)"hi", 2));
    CHECK_OK(tcphub_server_send_all(s, (const uint8_t *)"yo", 2, &n));
    CHECK(n == 1);
    tcphub_message msg;
    CHECK_OK(tcphub_client_recv(c, &msg, WAIT_MS));
    CHECK(msg.len == 2 && memcmp(msg.data, "yo", 2) == 0);
    tcphub_message_release(&msg);
    tcphub_message_release(&msg); /* released twice: a zeroed message */

    CHECK_NO_PANIC(tcphub_client_close_timeout(c, UINT64_MAX));
    tcphub_client_free(c);
    CHECK_NO_PANIC(tcphub_server_stop_timeout(s, UINT64_MAX));
    tcphub_server_free(s);
    TEST_PASS("running server and client: hostile buffers, largest timeouts, no panic");
}

int main(void) {
    null_handles();
    server_setters();
    running();
    return 0;
}
