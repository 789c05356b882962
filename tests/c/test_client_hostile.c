/* The client API against a hostile or broken server, played by a plain
 * listening socket: a frame over max_len, a reset, a close in the middle of
 * a frame, a clean close. recv ends with NOT_RUNNING each time, and
 * tcphub_client_disconnect_reason tells which it was. */
#include "test_util.h"

/* Connects a length-prefixed client (max_len 100) to a fresh raw server;
 * returns the server's end of the connection. */
static int raw_pair(tcphub_client **c) {
    uint16_t port;
    int l = listen_local(&port);
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LENGTH_PREFIXED, 100, c));
    int fd = accept(l, NULL, NULL);
    CHECK(fd >= 0);
    close(l);
    return fd;
}

static void write_all(int fd, const uint8_t *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        CHECK(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Takes what is left until the stream ends; returns how many messages. */
static int drain(tcphub_client *c) {
    tcphub_message m = {0};
    int n = 0;
    int rc;
    while ((rc = tcphub_client_recv(c, &m, WAIT_MS)) == TCPHUB_OK) {
        tcphub_message_release(&m);
        n++;
    }
    CHECK_RC(rc, TCPHUB_ERR_NOT_RUNNING);
    return n;
}

static int reason_of(tcphub_client *c) {
    int reason = -2;
    CHECK_OK(tcphub_client_disconnect_reason(c, &reason));
    return reason;
}

int main(void) {
    tcphub_client *c = NULL;
    int fd = raw_pair(&c);
    CHECK(reason_of(c) == -1);
    const uint8_t ok[] = {0, 0, 0, 2, 'o', 'k'};
    const uint8_t too_long[] = {0, 0, 0, 101};
    write_all(fd, ok, sizeof ok);
    write_all(fd, too_long, sizeof too_long);
    CHECK(drain(c) == 1);
    CHECK(reason_of(c) == TCPHUB_REASON_FRAME_TOO_LARGE);
    tcphub_client_free(c);
    close(fd);
    TEST_PASS("a frame over max_len: FRAME_TOO_LARGE");

    fd = raw_pair(&c);
    write_all(fd, ok, 3);
    struct linger lg = {1, 0};
    CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    close(fd); /* RST */
    drain(c);
    CHECK(reason_of(c) == TCPHUB_REASON_RESET);
    tcphub_client_free(c);
    TEST_PASS("a reset: RESET");

    fd = raw_pair(&c);
    write_all(fd, ok, 3);
    close(fd); /* FIN in the middle of a frame */
    CHECK(drain(c) == 0);
    CHECK(reason_of(c) == TCPHUB_REASON_IO);
    tcphub_client_free(c);
    TEST_PASS("a close in the middle of a frame: IO");

    fd = raw_pair(&c);
    write_all(fd, ok, sizeof ok);
    close(fd);
    CHECK(drain(c) == 1);
    CHECK(reason_of(c) == TCPHUB_REASON_CLOSED_BY_PEER);
    tcphub_client_free(c);
    TEST_PASS("a clean close: CLOSED_BY_PEER");

    fd = raw_pair(&c);
    CHECK_OK(tcphub_client_close(c));
    drain(c);
    CHECK(reason_of(c) == TCPHUB_REASON_CLOSED_LOCALLY);
    int reason = 1234;
    CHECK_RC(tcphub_client_disconnect_reason(NULL, &reason), TCPHUB_ERR_NULL);
    CHECK(reason == -1); /* set on failure, as other out-parameters */
    CHECK_RC(tcphub_client_disconnect_reason(c, NULL), TCPHUB_ERR_NULL);
    tcphub_client_free(c);
    close(fd);
    TEST_PASS("our own close: CLOSED_LOCALLY; NULL arguments");
    return 0;
}
