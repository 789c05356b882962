/* tcphub_connect_cancel: another thread ends a tcphub_client_connect_with
 * under way (TCPHUB_ERR_CONNECT, tcphub_last_errno() EINTR, "connect
 * cancelled") long before its connect timeout; a token cancelled first
 * dials nothing; a token never cancelled changes nothing; NULL is handled.
 *
 * The connect that hangs: a listener with a backlog of 0 that never
 * accepts, filled by connects, drops the SYNs of the next one. */
#include "test_util.h"

/* A listener on 127.0.0.1 whose backlog is full (its port in *port), and
 * the connects that fill it (fill[0..n)). */
static int full_listener(uint16_t *port, int *fill, int n) {
    int l = bound_local();
    CHECK(listen(l, 0) == 0);
    *port = local_port(l);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(*port);
    for (int i = 0; i < n; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        CHECK(fill[i] >= 0);
        int rc = connect(fill[i], (struct sockaddr *)&addr, sizeof addr);
        CHECK(rc == 0 || errno == EINPROGRESS);
    }
    /* At least the first is in the backlog before the listener is used. */
    struct pollfd p = {.fd = fill[0], .events = POLLOUT};
    CHECK(poll(&p, 1, WAIT_MS) == 1);
    return l;
}

struct canceller {
    tcphub_connect_cancel *cancel;
    int delay_ms;
    int64_t cancelled_at;
};

static void *cancel_later(void *arg) {
    struct canceller *c = arg;
    nap_ms(c->delay_ms);
    c->cancelled_at = now_ms(); /* read first: the connect may return at once */
    CHECK_OK(tcphub_connect_cancel_cancel(c->cancel));
    return NULL;
}

int main(void) {
    /* NULL and the defaults. */
    CHECK_RC(tcphub_connect_cancel_cancel(NULL), TCPHUB_ERR_NULL);
    CHECK(!tcphub_connect_cancel_is_cancelled(NULL));
    tcphub_connect_cancel_free(NULL);
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    CHECK(o.cancel == NULL);
    TEST_PASS("NULL tokens; no token by default");

    /* Cancelled while the connect hangs: it returns long before its 60 s. */
    uint16_t port;
    int fill[4];
    int l = full_listener(&port, fill, 4);
    tcphub_connect_cancel *cancel = tcphub_connect_cancel_new();
    CHECK(cancel != NULL);
    CHECK(!tcphub_connect_cancel_is_cancelled(cancel));
    o.connect_timeout_ms = 60000;
    o.cancel = cancel;
    struct canceller c = {.cancel = cancel, .delay_ms = 200};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, cancel_later, &c) == 0);
    int64_t start = now_ms();
    tcphub_client *client = (tcphub_client *)&o; /* overwritten with NULL */
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &o, &client), TCPHUB_ERR_CONNECT);
    int64_t returned = now_ms();
    CHECK(client == NULL);
    CHECK(tcphub_last_errno() == EINTR);
    CHECK(strstr(tcphub_last_error(), "connect cancelled") != NULL);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(tcphub_connect_cancel_is_cancelled(cancel));
    /* Generous bounds (a shared machine): measured well under 10 ms. */
    CHECK(returned >= c.cancelled_at);
    CHECK(returned - c.cancelled_at < 5000);
    CHECK(returned - start < 10000);
    printf("# returned %lld ms after the cancel\n", (long long)(returned - c.cancelled_at));
    TEST_PASS("a connect cancelled while it hangs returns EINTR at once");

    /* Cancelled first: nothing is dialled (a live listener sees nothing). */
    uint16_t live_port;
    int live = listen_local(&live_port);
    start = now_ms();
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", live_port, &o, &client),
             TCPHUB_ERR_CONNECT);
    CHECK(now_ms() - start < 5000);
    CHECK(tcphub_last_errno() == EINTR);
    struct pollfd p = {.fd = live, .events = POLLIN};
    CHECK(poll(&p, 1, 100) == 0); /* no connection to accept */
    TEST_PASS("a token cancelled first dials nothing");

    /* Freed while unused, then a fresh token that is never cancelled. */
    tcphub_connect_cancel_free(cancel);
    cancel = tcphub_connect_cancel_new();
    o.cancel = cancel;
    o.connect_timeout_ms = 5000;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", live_port, &o, &client));
    int fd = accept(live, NULL, NULL);
    CHECK(fd >= 0);
    CHECK_OK(tcphub_client_send(client, (const uint8_t *)"hi", 2));
    char buf[2];
    int64_t deadline = now_ms() + WAIT_MS;
    for (size_t got = 0; got < 2;) {
        CHECK(read_byte(fd, &buf[got], deadline) == 1);
        got++;
    }
    CHECK(memcmp(buf, "hi", 2) == 0);
    /* Cancelling after the connect ends nothing. */
    CHECK_OK(tcphub_connect_cancel_cancel(cancel));
    CHECK(tcphub_client_is_connected(client));
    tcphub_client_free(client);
    tcphub_connect_cancel_free(cancel);
    close(fd);
    TEST_PASS("a token never cancelled changes nothing");

    close(live);
    for (int i = 0; i < 4; i++) close(fill[i]);
    close(l);
    return 0;
}
