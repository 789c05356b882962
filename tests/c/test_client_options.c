/* tcphub_client_options / tcphub_client_connect_with: defaults, argument
 * checks, and a client that reconnects to a restarted server, queueing
 * (boundedly) what is sent while the server is down. */
#include "test_util.h"

static void echo(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    CHECK_OK(tcphub_server_send(ud, id, data, len));
}

/* An echo server (lines) on 127.0.0.1:port (0: any). */
static tcphub_server *echo_server(uint16_t port) {
    tcphub_server *s = tcphub_server_new(port, 16);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0));
    CHECK_OK(tcphub_server_on_message(s, echo, s));
    CHECK_OK(tcphub_server_start(s));
    return s;
}

static void expect_msg(tcphub_client *c, const char *want) {
    tcphub_message m;
    CHECK_OK(tcphub_client_recv(c, &m, WAIT_MS));
    if (m.len != strlen(want) || memcmp(m.data, want, m.len) != 0) {
        fprintf(stderr, "expected \"%s\", got \"%.*s\"\n", want, (int)m.len, (const char *)m.data);
        exit(1);
    }
    tcphub_message_release(&m);
}

int main(void) {
    tcphub_client_options_init(NULL); /* no-op */
    tcphub_client_options o;
    memset(&o, 0xab, sizeof o);
    tcphub_client_options_init(&o);
    CHECK(o.size == sizeof o);
    CHECK(o.framing == TCPHUB_FRAMING_RAW && o.max_len == 0);
    CHECK(o.connect_timeout_ms == 10000 && !o.reconnect);
    CHECK(o.reconnect_initial_ms == 100 && o.reconnect_max_ms == 30000);
    CHECK(o.reconnect_max_attempts == 0);
    CHECK(o.max_queue_bytes == 4 * 1024 * 1024 && o.linger_ms == 2000);
    CHECK(o.nodelay && o.event_capacity == 65536 && o.keepalive_ms == 0);
    CHECK(!o.write_after_server_eof);
    TEST_PASS("tcphub_client_options_init fills the defaults");

    tcphub_server *s = echo_server(0);
    uint16_t port = tcphub_server_port(s);
    tcphub_client *c = (tcphub_client *)&o; /* must be overwritten */
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, NULL, &c), TCPHUB_ERR_NULL);
    CHECK(c == NULL);
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &o, NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_client_connect_with(NULL, port, &o, &c), TCPHUB_ERR_NULL);
    tcphub_client_options bad = o;
    bad.size = sizeof bad - 1;
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &bad, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "tcphub_client_options_init") != NULL);
    bad = o;
    bad.connect_timeout_ms = 0;
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &bad, &c), TCPHUB_ERR_INVALID_ARG);
    bad = o;
    bad.reconnect = true;
    bad.reconnect_initial_ms = 0;
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &bad, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "reconnect") != NULL);
    bad = o;
    bad.reconnect_max_attempts = 3; /* without reconnect: it would never apply */
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &bad, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "reconnect_max_attempts applies only with reconnect") != NULL);
    bad = o;
    bad.framing = 42;
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &bad, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK(c == NULL);
    TEST_PASS("connect_with: NULLs, a short struct, zero timeout or delays, max attempts without reconnect, bad framing");

    o.framing = TCPHUB_FRAMING_LINES;
    o.reconnect = true;
    o.reconnect_initial_ms = 10;
    o.reconnect_max_ms = 100;
    o.max_queue_bytes = 1024;
    o.linger_ms = 5000;
    o.keepalive_ms = 1500; /* rounded up to 2 s; the core's tests check the socket */
    CHECK_OK(tcphub_client_connect_with("localhost", port, &o, &c));
    CHECK(c != NULL && tcphub_client_is_connected(c));
    CHECK_OK(tcphub_client_send(c, (const uint8_t *)"one", 3));
    expect_msg(c, "one");
    TEST_PASS("connect_with: lines framing, keepalive on, an echo comes back");

    /* The server goes away: the client waits to reconnect; what it is given
     * meanwhile is queued up to max_queue_bytes, then refused. */
    tcphub_server_free(s);
    WAIT_UNTIL(!tcphub_client_is_connected(c));
    int queued = 0, refused = 0;
    for (int i = 0; i < 100; i++) {
        char line[64];
        snprintf(line, sizeof line, "while down %02d ..............................", i);
        int rc = tcphub_client_send(c, (const uint8_t *)line, strlen(line));
        if (rc == TCPHUB_OK) {
            CHECK(refused == 0); /* once full, it stays full */
            queued++;
        } else {
            CHECK_RC(rc, TCPHUB_ERR_QUEUE_FULL);
            refused++;
        }
    }
    CHECK(queued > 0 && refused > 0);
    printf("# %d queued while down, %d refused\n", queued, refused);

    /* Back on the same port: the client reconnects by itself and the
     * queued messages go out, in order, then new ones. */
    s = echo_server(port);
    WAIT_UNTIL(tcphub_client_is_connected(c));
    for (int i = 0; i < queued; i++) {
        char want[64];
        snprintf(want, sizeof want, "while down %02d ..............................", i);
        expect_msg(c, want);
    }
    CHECK_OK(tcphub_client_send(c, (const uint8_t *)"two", 3));
    expect_msg(c, "two");
    TEST_PASS("reconnect: queued while down (bounded), delivered in order after the restart");

    tcphub_client_free(c);

    /* max_queue_bytes bounds what waits, but one message larger than the
     * bound is accepted when nothing is queued (as the header says); the
     * next one is refused until it is written. The server is down and the
     * redial far off, so nothing is written meanwhile. */
    tcphub_client_options q;
    tcphub_client_options_init(&q);
    q.reconnect = true;
    q.reconnect_initial_ms = 60000;
    q.reconnect_max_ms = 60000;
    q.max_queue_bytes = 100;
    q.linger_ms = 0;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", port, &q, &c));
    tcphub_server_free(s);
    WAIT_UNTIL(!tcphub_client_is_connected(c));
    static const uint8_t big[1000];
    CHECK_OK(tcphub_client_send(c, big, sizeof big));
    CHECK(tcphub_client_queued_bytes(c) == sizeof big);
    CHECK_RC(tcphub_client_send(c, big, 1), TCPHUB_ERR_QUEUE_FULL);
    tcphub_client_free(c);
    TEST_PASS("max_queue_bytes: one larger message is accepted into an empty queue");
    return 0;
}
