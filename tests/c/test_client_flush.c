/* tcphub_client_flush and tcphub_client_send_timeout against a server that
 * does not read (a plain listening socket with a small receive buffer):
 * send_timeout waits for room and returns QUEUE_FULL when none comes,
 * flush returns TIMEOUT until the server reads and OK once everything is
 * written; both end with NOT_RUNNING when the connection is lost for good
 * (a reset) rather than wait out their time; from a server's callback they
 * do not wait. */
#include "test_util.h"

#define MSG (64 * 1024)
#define QUEUE (256 * 1024)

/* A raw client with a small queue connected to a fresh server that does
 * not read; returns the server's end of the connection. */
static int stalled_pair(tcphub_client **c) {
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.max_queue_bytes = QUEUE;
    o.linger_ms = 600000;
    return connect_stalled(&o, c);
}

/* Sends until no room comes within a second: the kernel's buffers
 * are full and the I/O thread cannot write. Returns the bytes sent. */
static size_t fill(tcphub_client *c, const uint8_t *msg) {
    size_t sent = 0;
    for (;;) {
        int rc = tcphub_client_send_timeout(c, msg, MSG, 1000);
        if (rc == TCPHUB_ERR_QUEUE_FULL) break;
        CHECK_OK(rc);
        sent += MSG;
        CHECK(sent < ((size_t)1 << 30)); /* the queue never filled */
    }
    CHECK(tcphub_client_queued_bytes(c) > 0);
    return sent;
}

static tcphub_client *stuck;
static atomic_int cb_flush_rc = 1, cb_send_rc = 1, cb_done;
static atomic_llong cb_ms = -1;

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)ud;
    (void)id;
    (void)data;
    (void)len;
    static uint8_t one[MSG];
    int64_t t0 = now_ms();
    cb_flush_rc = tcphub_client_flush(stuck, WAIT_MS);
    cb_send_rc = tcphub_client_send_timeout(stuck, one, sizeof one, WAIT_MS);
    cb_ms = now_ms() - t0;
    atomic_store(&cb_done, 1);
}

int main(void) {
    uint8_t *msg = calloc(MSG, 1);
    CHECK(msg != NULL);
    CHECK_RC(tcphub_client_flush(NULL, 10), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_client_send_timeout(NULL, msg, 1, 10), TCPHUB_ERR_NULL);
    CHECK(tcphub_client_flush_mark(NULL) == 0);
    CHECK_RC(tcphub_client_flush_to(NULL, 0, 10), TCPHUB_ERR_NULL);
    TEST_PASS("NULL client");

    tcphub_client *c = NULL;
    int fd = stalled_pair(&c);
    CHECK_OK(tcphub_client_flush(c, 0)); /* nothing queued */
    uint64_t before = tcphub_client_flush_mark(c);
    CHECK_RC(tcphub_client_send_timeout(c, NULL, 1, 0), TCPHUB_ERR_NULL);
    size_t sent = fill(c, msg);
    CHECK_RC(tcphub_client_send(c, msg, MSG), TCPHUB_ERR_QUEUE_FULL);
    TEST_PASS("send_timeout: QUEUE_FULL when no room comes in time");

    CHECK_RC(tcphub_client_flush(c, 50), TCPHUB_ERR_TIMEOUT);
    CHECK(strstr(tcphub_last_error(), "tcphub_client_flush") != NULL);
    TEST_PASS("flush: TIMEOUT while the server does not read");

    /* A mark taken before anything was queued waits for nothing; one taken
     * now, for everything queued so far — and only that (below). */
    CHECK_OK(tcphub_client_flush_to(c, before, 0));
    uint64_t mark = tcphub_client_flush_mark(c);
    CHECK(mark > before);
    CHECK_RC(tcphub_client_flush_to(c, mark, 50), TCPHUB_ERR_TIMEOUT);
    TEST_PASS("flush_to: OK for a mark from before, TIMEOUT for one from now");

    struct drain d = {fd, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, drain_thread, &d) == 0);
    int64_t t0 = now_ms();
    CHECK_OK(tcphub_client_send_timeout(c, msg, MSG, WAIT_MS));
    sent += MSG;
    CHECK_OK(tcphub_client_flush_to(c, mark, WAIT_MS));
    CHECK_OK(tcphub_client_flush(c, WAIT_MS));
    CHECK(now_ms() - t0 < WAIT_MS / 2); /* woken by the writes, not the time */
    CHECK(tcphub_client_queued_bytes(c) == 0);
    TEST_PASS("send_timeout and flush: OK once the server reads");

    CHECK_OK(tcphub_client_close(c));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(d.bytes == sent); /* raw framing: the bytes as sent */
    CHECK_OK(tcphub_client_flush(c, 0)); /* closed, and all of it written */
    CHECK_RC(tcphub_client_send_timeout(c, msg, 1, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    tcphub_client_free(c);
    close(fd);
    TEST_PASS("after close: flush OK (all written), send_timeout NOT_RUNNING");

    /* Lost for good (reset, no reconnect) with messages queued. */
    fd = stalled_pair(&c);
    fill(c, msg);
    struct linger lg = {1, 0};
    CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    close(fd);
    t0 = now_ms();
    CHECK_RC(tcphub_client_flush(c, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    CHECK(now_ms() - t0 < WAIT_MS / 2);
    CHECK_RC(tcphub_client_send_timeout(c, msg, MSG, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    tcphub_client_free(c);
    TEST_PASS("connection lost for good: flush NOT_RUNNING without waiting out its time");

    /* In a server's callback: neither waits for the stuck client. */
    fd = stalled_pair(&stuck);
    fill(stuck, msg);
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(s, on_message, NULL));
    CHECK_OK(tcphub_server_start(s));
    int peer = connect_to(tcphub_server_port(s));
    write_str(peer, "go\n");
    WAIT_UNTIL(atomic_load(&cb_done));
    CHECK_RC(cb_flush_rc, TCPHUB_ERR_TIMEOUT);
    CHECK_RC(cb_send_rc, TCPHUB_ERR_QUEUE_FULL);
    CHECK(cb_ms < WAIT_MS / 2);
    TEST_PASS("in a server's callback: flush TIMEOUT and send_timeout QUEUE_FULL at once");
    close(peer);
    tcphub_server_free(s);
    CHECK_RC(tcphub_client_close_timeout(stuck, 0), TCPHUB_ERR_TIMEOUT);
    close(fd); /* the close's flush fails: the client ends */
    CHECK_OK(tcphub_client_close_timeout(stuck, WAIT_MS));
    tcphub_client_free(stuck);

    free(msg);
    return 0;
}
