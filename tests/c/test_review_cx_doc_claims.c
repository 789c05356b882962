/* Spot checks of claims in include/tcphub.h, each against a running
 * server on 127.0.0.1 where it needs one: setters refuse a running server
 * whatever the argument; deferred settings are refused by
 * tcphub_server_start; argument errors of the connect, send and list
 * functions; out-parameters on failure; in-callback stop_timeout; the
 * address after a stop; last_errno behind a bind conflict. */
#include "test_util.h"

static void setters_refuse_a_running_server(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    /* "then whether the server runs (TCPHUB_ERR_ALREADY_RUNNING, whatever
     * the argument)" */
    CHECK_RC(tcphub_server_set_framing(s, 99, 0), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_bind_ip(s, NULL), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_backlog(s, -1), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_per_ip_ipv6_prefix(s, 0), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_full_message(s, NULL, 5), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_on_message(s, NULL, NULL), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_overflow(s, 1234), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_ALREADY_RUNNING);
    /* "The exception is tcphub_server_set_userdata_free, which may be
     * called at any time." */
    CHECK_OK(tcphub_server_set_userdata_free(s, NULL));
    tcphub_server_free(s);
    TEST_PASS("setters return ALREADY_RUNNING while running, whatever the argument");
}

static void start_refuses(tcphub_server *s) {
    CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_INVALID_ARG);
    CHECK(!tcphub_server_is_running(s));
    tcphub_server_free(s);
}

static void start_refuses_deferred_settings(void) {
    tcphub_server *s = tcphub_server_new(0, 0); /* max_clients 0 */
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    start_refuses(s);
    s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_threads(s, 0));
    start_refuses(s);
    s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_threads(s, 4097));
    start_refuses(s);
    s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_busy_poll(s, 1000001));
    start_refuses(s);
    s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_keepalive(s, (uint64_t)32768 * 1000));
    start_refuses(s);
    TEST_PASS("start refuses max_clients 0, 0 or 4097 threads, busy_poll > 1 s, keepalive > 32767 s");
}

static void connect_argument_errors(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    tcphub_client *c = (tcphub_client *)&c; /* garbage: must become NULL */
    CHECK_RC(tcphub_client_connect("127.0.0.1:8001", port, TCPHUB_FRAMING_LINES, 0, &c),
             TCPHUB_ERR_INVALID_ARG);
    CHECK(c == NULL);
    c = (tcphub_client *)&c;
    CHECK_RC(tcphub_client_connect("", port, TCPHUB_FRAMING_LINES, 0, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK(c == NULL);
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    CHECK(o.size == sizeof o);
    o.size = sizeof o - 1;
    c = (tcphub_client *)&c;
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &o, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK(c == NULL);
    tcphub_client_options_init(&o);
    o.connect_timeout_ms = 0;
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &o, &c), TCPHUB_ERR_INVALID_ARG);
    tcphub_client_options_init(&o);
    o.reconnect_max_attempts = 3; /* without reconnect */
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &o, &c), TCPHUB_ERR_INVALID_ARG);
    tcphub_client_options_init(&o);
    o.keepalive_ms = (uint64_t)32768 * 1000;
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &o, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK(c == NULL);
    /* A good one, then the send-side argument errors. */
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LINES, 0, &c));
    uint64_t id = expect_connected(s);
    CHECK_OK(tcphub_client_send(c, NULL, 0)); /* "data may be NULL when len is 0" */
    CHECK_RC(tcphub_client_send(c, (const uint8_t *)"a\nb", 3), TCPHUB_ERR_INVALID_MESSAGE);
    CHECK_RC(tcphub_client_send(c, NULL, 3), TCPHUB_ERR_NULL);
    CHECK_OK(tcphub_server_send(s, id, NULL, 0));
    CHECK_RC(tcphub_server_send(s, id, (const uint8_t *)"a\nb", 3), TCPHUB_ERR_INVALID_MESSAGE);
    size_t n = 99;
    CHECK_RC(tcphub_server_send_all(s, (const uint8_t *)"a\nb", 3, &n), TCPHUB_ERR_INVALID_MESSAGE);
    CHECK(n == 0); /* "0 when the call fails" */
    CHECK_RC(tcphub_server_send_to(s, "localhost", 1, (const uint8_t *)"x", 1), TCPHUB_ERR_INVALID_ARG);
    /* send_many: unaligned ids are refused, duplicates count once. */
    uint64_t store[3] = {id, id, 0};
    n = 99;
    CHECK_OK(tcphub_server_send_many(s, store, 2, (const uint8_t *)"m", 1, &n));
    CHECK(n == 1);
    const uint64_t *odd = (const uint64_t *)(const void *)((const char *)store + 1);
    n = 99;
    CHECK_RC(tcphub_server_send_many(s, odd, 1, (const uint8_t *)"m", 1, &n), TCPHUB_ERR_INVALID_ARG);
    CHECK(n == 0);
    /* The client got "", "" (the empty messages) and "m" only. */
    tcphub_message m = {0};
    CHECK_OK(tcphub_client_recv(c, &m, WAIT_MS));
    CHECK(m.len == 0);
    tcphub_message_release(&m);
    CHECK_OK(tcphub_client_recv(c, &m, WAIT_MS));
    CHECK(m.len == 1 && m.data[0] == 'm');
    tcphub_message_release(&m);
    /* clients(): NULL list with room is an error and says 0. */
    n = 99;
    tcphub_client_info info[2];
    CHECK_RC(tcphub_server_clients(s, NULL, 2, &n), TCPHUB_ERR_NULL);
    CHECK(n == 0);
    CHECK_OK(tcphub_server_clients(s, info, 2, &n));
    CHECK(n == 1 && info[0].client_id == id);
    tcphub_client_free(c);
    /* After a stop, local_addr gives the last run's address. */
    CHECK_OK(tcphub_server_stop(s));
    char ip[TCPHUB_IP_LEN];
    uint16_t p = 0;
    CHECK_OK(tcphub_server_local_addr(s, ip, &p));
    CHECK(strcmp(ip, "127.0.0.1") == 0 && p == port);
    /* Bound twice: TCPHUB_ERR_BIND with EADDRINUSE. */
    CHECK_OK(tcphub_server_start(s));
    tcphub_server *t = tcphub_server_new(tcphub_server_port(s), 4);
    CHECK_OK(tcphub_server_set_bind_ip(t, "127.0.0.1"));
    CHECK_RC(tcphub_server_start(t), TCPHUB_ERR_BIND);
    CHECK(tcphub_last_errno() == EADDRINUSE);
    tcphub_server_free(t);
    tcphub_server_free(s);
    TEST_PASS("argument errors of connect, send, send_many, clients; addr after stop; EADDRINUSE");
}

struct cb_ctx {
    tcphub_server *server;
    atomic_int stop_timeout_rc;
    atomic_int done;
};

static void stop_timeout_in_cb(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id, (void)data, (void)len;
    struct cb_ctx *c = ud;
    /* "TCPHUB_ERR_TIMEOUT ... what tcphub_server_stop_timeout ... return at
     * once from inside a callback" */
    atomic_store(&c->stop_timeout_rc, tcphub_server_stop_timeout(c->server, 60000));
    atomic_store(&c->done, 1);
}

static void stop_timeout_inside_a_callback(void) {
    static struct cb_ctx c;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    c.server = s;
    atomic_store(&c.stop_timeout_rc, 1);
    CHECK_OK(tcphub_server_on_message(s, stop_timeout_in_cb, &c));
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    write_str(fd, "stop\n");
    WAIT_UNTIL(atomic_load(&c.done));
    CHECK(atomic_load(&c.stop_timeout_rc) == TCPHUB_ERR_TIMEOUT);
    expect_eof(fd);
    close(fd);
    CHECK_OK(tcphub_server_wait(s, WAIT_MS));
    CHECK(!tcphub_server_is_running(s));
    tcphub_server_free(s);
    TEST_PASS("stop_timeout inside a callback starts the stop and returns TIMEOUT at once");
}

int main(void) {
    setters_refuse_a_running_server();
    start_refuses_deferred_settings();
    connect_argument_errors();
    stop_timeout_inside_a_callback();
    return 0;
}
