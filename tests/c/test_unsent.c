/* write_after_server_eof (tcphub_client_options) and tcphub_client_unsent
 * against a plain server that does not read: with the option false (the
 * default), the server's end-of-stream (shutdown(SHUT_WR)) ends the client
 * at once — closed by peer, not after the linger time — and the messages
 * still queued are dropped and counted as unsent; with it true they are
 * still written after it, and nothing is unsent once the server has read
 * them. */
#include "test_util.h"

#define MSG (64 * 1024)
#define FRAME (4 + MSG) /* length-prefixed: a 4-byte length, then the bytes */

/* A length-prefixed client with a linger time far beyond any wait here,
 * connected to a fresh server that does not read (a small receive buffer),
 * with its queue filled: 64 KiB messages sent until TCPHUB_ERR_QUEUE_FULL.
 * Stores how many were accepted in *sent; returns the server's end. */
static int stuck_pair(tcphub_client **c, bool write_after_eof, uint64_t *sent) {
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.framing = TCPHUB_FRAMING_LENGTH_PREFIXED;
    o.linger_ms = 600000;
    /* Well past what the kernel's buffers take (net.ipv4.tcp_wmem's 4 MiB
     * by default): messages stay queued once the queue is full. */
    o.max_queue_bytes = 16u << 20;
    if (write_after_eof) o.write_after_server_eof = true; /* else the default */
    int fd = connect_stalled(&o, c);
    uint8_t *msg = calloc(MSG, 1);
    CHECK(msg != NULL);
    *sent = 0;
    for (;;) {
        int rc = tcphub_client_send(*c, msg, MSG);
        if (rc == TCPHUB_ERR_QUEUE_FULL) break;
        CHECK_OK(rc);
        *sent += 1;
        CHECK(*sent < 10000); /* the queue never filled */
    }
    free(msg);
    /* The socket buffers are full and the rest waits in the queue. */
    WAIT_UNTIL(tcphub_client_queued_bytes(*c) > 0);
    CHECK(tcphub_client_is_open(*c));
    CHECK(tcphub_client_unsent(*c) == 0); /* nothing is unsent while open */
    return fd;
}

/* Waits (bounded by WAIT_MS) for the client's end; returns its reason. */
static int end_of(tcphub_client *c) {
    tcphub_message m = {0};
    CHECK_RC(tcphub_client_recv(c, &m, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    CHECK(!tcphub_client_is_open(c));
    int reason = -1;
    CHECK_OK(tcphub_client_disconnect_reason(c, &reason));
    return reason;
}

int main(void) {
    CHECK(tcphub_client_unsent(NULL) == 0);
    CHECK(strstr(tcphub_last_error(), "tcphub_client_unsent") != NULL);
    TEST_PASS("NULL client");

    tcphub_client_options o;
    tcphub_client_options_init(&o);
    CHECK(!o.write_after_server_eof);
    TEST_PASS("write_after_server_eof is false by default");

    /* write_after_server_eof false (the default): the end-of-stream drops
     * the queue. */
    tcphub_client *c = NULL;
    uint64_t sent = 0;
    int fd = stuck_pair(&c, false, &sent);
    int64_t started = now_ms();
    CHECK(shutdown(fd, SHUT_WR) == 0); /* EOF to the client */
    CHECK(end_of(c) == TCPHUB_REASON_CLOSED_BY_PEER);
    /* At once, not after the linger time (10 minutes here). */
    CHECK(now_ms() - started < WAIT_MS);
    uint64_t unsent = tcphub_client_unsent(c);
    printf("# %llu messages accepted, %llu unsent\n", (unsigned long long)sent,
           (unsigned long long)unsent);
    CHECK(unsent > 0); /* messages were still queued */
    CHECK(unsent <= sent);
    CHECK(tcphub_client_queued_bytes(c) == 0);
    /* What the server reads now is what was written before the end: whole
     * frames, the rest unsent. (A message cut off in the middle resets the
     * connection instead; then its bytes are not all there to count.) */
    size_t got = 0;
    bool reset = false;
    static uint8_t buf[1 << 16];
    int64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int left = (int)(deadline - now_ms());
        CHECK(left > 0); /* the client's end reached the server in time */
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) continue;
        CHECK(r >= 0);
        if (r == 0) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == ECONNRESET) {
            reset = true;
            break;
        }
        CHECK(n >= 0);
        if (n == 0) break;
        got += (size_t)n;
    }
    if (!reset) {
        CHECK(got % FRAME == 0); /* no partial frame before a clean FIN */
        CHECK(got / FRAME + unsent == sent);
    }
    CHECK(tcphub_client_unsent(c) == unsent); /* ended: it stays */
    CHECK_OK(tcphub_client_close(c));
    CHECK(tcphub_client_unsent(c) == unsent);
    tcphub_client_free(c);
    close(fd);
    TEST_PASS("write_after_server_eof false (the default): the server's end-of-stream ends the client at once, "
              "the queue counted unsent");

    /* write_after_server_eof true: the queue is still written after the end-of-stream. */
    c = NULL;
    fd = stuck_pair(&c, true, &sent);
    CHECK(shutdown(fd, SHUT_WR) == 0);
    struct drain d = {fd, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, drain_thread, &d) == 0);
    CHECK(end_of(c) == TCPHUB_REASON_CLOSED_BY_PEER);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(d.bytes == sent * FRAME);
    CHECK(tcphub_client_unsent(c) == 0);
    tcphub_client_free(c);
    close(fd);
    TEST_PASS("write_after_server_eof true: the queue is still written after the end-of-stream: nothing unsent");
    return 0;
}
