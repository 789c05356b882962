/* The client API against an echo server whose callback replies from inside
 * on_message: connect, send, recv with timeout, errors, close, free. */
#include "test_util.h"

#include <netdb.h>

static void echo(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    tcphub_server *s = ud;
    /* Calling back into tcphub from a callback is allowed. */
    CHECK_OK(tcphub_server_send(s, id, data, len));
}

/* Waits without limit in tcphub_client_recv / _next_event; stores the
 * code that ended the wait. */
static int waiter_rc[2];
static void *recv_waiter(void *arg) {
    tcphub_message m;
    waiter_rc[0] = tcphub_client_recv(arg, &m, -1);
    return NULL;
}
static void *event_waiter(void *arg) {
    tcphub_client_event ev;
    int rc;
    while ((rc = tcphub_client_next_event(arg, &ev, -1)) == TCPHUB_OK) {
        tcphub_client_event_release(&ev);
    }
    waiter_rc[1] = rc;
    return NULL;
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_on_message(s, echo, s));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);

    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LENGTH_PREFIXED, 0, &c));
    CHECK(c != NULL);
    CHECK(tcphub_client_is_connected(c));
    CHECK(tcphub_client_local_port(c) != 0);
    TEST_PASS("connect");

    tcphub_message m = {0};
    CHECK_RC(tcphub_client_recv(c, &m, 0), TCPHUB_ERR_TIMEOUT);
    CHECK(m.data == NULL && m.len == 0);
    TEST_PASS("recv with nothing waiting: TIMEOUT");

    const uint8_t bin[] = {'p', 0, 'i', 0xff, 'n', 'g'};
    CHECK_OK(tcphub_client_send(c, bin, sizeof bin));
    CHECK_OK(tcphub_client_recv(c, &m, WAIT_MS));
    CHECK(m.len == sizeof bin && memcmp(m.data, bin, sizeof bin) == 0);
    tcphub_message_release(&m);
    tcphub_message_release(&m);
    CHECK(m.data == NULL);
    for (int i = 0; i < 50; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "message %d", i);
        CHECK_OK(tcphub_client_send(c, (const uint8_t *)buf, (size_t)n));
    }
    for (int i = 0; i < 50; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "message %d", i);
        CHECK_OK(tcphub_client_recv(c, &m, WAIT_MS));
        CHECK(m.len == (size_t)n && memcmp(m.data, buf, (size_t)n) == 0);
        tcphub_message_release(&m);
    }
    TEST_PASS("binary echo and 50 messages in order");

    /* "localhost" is resolved; the server answers on 127.0.0.1. */
    tcphub_client *c2 = NULL;
    CHECK_OK(tcphub_client_connect("localhost", port, TCPHUB_FRAMING_LENGTH_PREFIXED, 0, &c2));
    CHECK_OK(tcphub_client_send(c2, (const uint8_t *)"named", 5));
    CHECK_OK(tcphub_client_recv(c2, &m, WAIT_MS));
    CHECK(m.len == 5 && memcmp(m.data, "named", 5) == 0);
    tcphub_message_release(&m);
    CHECK_OK(tcphub_client_close(c2));
    CHECK_OK(tcphub_client_close(c2));
    CHECK_RC(tcphub_client_send(c2, (const uint8_t *)"late", 4), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "the client is closed") != NULL);
    tcphub_client_free(c2);
    TEST_PASS("connect by name; close is idempotent; send after close fails");

    tcphub_client *bad = (tcphub_client *)&m; /* must be overwritten with NULL */
    uint16_t refused;
    int held = refusing_local(&refused);
    CHECK_RC(tcphub_client_connect("127.0.0.1", refused, TCPHUB_FRAMING_RAW, 0, &bad),
             TCPHUB_ERR_CONNECT);
    close(held);
    CHECK(bad == NULL);
    CHECK(strstr(tcphub_last_error(), "tcphub_client_connect") != NULL);
    CHECK_RC(tcphub_client_connect("127.0.0.1", port, 99, 0, &bad), TCPHUB_ERR_INVALID_ARG);
    CHECK(bad == NULL);
    CHECK_RC(tcphub_client_connect(NULL, port, TCPHUB_FRAMING_RAW, 0, &bad), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_RAW, 0, NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_client_send(NULL, (const uint8_t *)"x", 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_client_recv(NULL, &m, 0), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_client_recv(c, NULL, 0), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_client_close(NULL), TCPHUB_ERR_NULL);
    CHECK(tcphub_client_local_port(NULL) == 0);
    CHECK(!tcphub_client_is_connected(NULL));
    TEST_PASS("connection refused, bad framing and NULL arguments are codes");

    /* A name with several addresses ("localhost": ::1 and 127.0.0.1 where
     * both are configured) none of which accepts: tcphub_last_error() names
     * every address tried, each with its error. */
    /* The port held on both loopback addresses where IPv6 is up (a few
     * tries: ::1 may have it in use), on 127.0.0.1 alone where it is not.
     * There (a hosts file that names ::1, a loopback without IPv6, as in
     * many containers) ::1 fails another way ("address not available"):
     * it is still named, with its error. */
    uint16_t shut = 0;
    int held4 = -1, held6 = -1;
    for (int i = 0; i < 20 && held6 < 0; i++) {
        if (held4 >= 0) close(held4);
        held4 = refusing_local(&shut);
        held6 = refusing_local6(shut);
    }
    CHECK_RC(tcphub_client_connect("localhost", shut, TCPHUB_FRAMING_RAW, 0, &bad),
             TCPHUB_ERR_CONNECT);
    close(held4);
    int had6 = held6 >= 0;
    if (held6 >= 0) close(held6);
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", tcphub_last_error());
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)shut);
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    CHECK(getaddrinfo("localhost", service, &hints, &found) == 0);
    int named = 0;
    for (struct addrinfo *ai = found; ai != NULL; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN + 40];
        if (ai->ai_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)ai->ai_addr;
            CHECK(inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip) != NULL);
            snprintf(want, sizeof want, "[%s]:%u: %s", ip, (unsigned)shut,
                     had6 ? "connection refused" : "");
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)ai->ai_addr;
            CHECK(inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip) != NULL);
            snprintf(want, sizeof want, "%s:%u: connection refused", ip, (unsigned)shut);
        }
        if (strstr(detail, want) == NULL) {
            fprintf(stderr, "missing \"%s\" in: %s\n", want, detail);
        }
        CHECK(strstr(detail, want) != NULL);
        named++;
    }
    freeaddrinfo(found);
    printf("# localhost has %d address(es): %s\n", named, detail);
    TEST_PASS("a refused name's error names every address it resolved to");

    /* Half-close: every reply to what was sent before it still arrives,
     * then the server closes and the stream ends. */
    tcphub_client *half = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LENGTH_PREFIXED, 0, &half));
    for (int i = 0; i < 20; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "last %d", i);
        CHECK_OK(tcphub_client_send(half, (const uint8_t *)buf, (size_t)n));
    }
    CHECK_OK(tcphub_client_shutdown_write(half));
    CHECK_OK(tcphub_client_shutdown_write(half));
    CHECK_RC(tcphub_client_send(half, (const uint8_t *)"x", 1), TCPHUB_ERR_NOT_RUNNING);
    /* (The server may have closed its side already: either reason.) */
    CHECK(strstr(tcphub_last_error(), "shutdown_write") != NULL ||
          strstr(tcphub_last_error(), "the connection is closed") != NULL);
    for (int i = 0; i < 20; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "last %d", i);
        CHECK_OK(tcphub_client_recv(half, &m, WAIT_MS));
        CHECK(m.len == (size_t)n && memcmp(m.data, buf, (size_t)n) == 0);
        tcphub_message_release(&m);
    }
    CHECK_RC(tcphub_client_recv(half, &m, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(tcphub_client_shutdown_write(half), TCPHUB_ERR_NOT_RUNNING);
    /* The server's end closed it: the error says so. */
    CHECK(strstr(tcphub_last_error(), "the connection is closed (closed by peer)") != NULL);
    CHECK_RC(tcphub_client_shutdown_write(NULL), TCPHUB_ERR_NULL);
    tcphub_client_free(half);
    TEST_PASS("shutdown_write: all replies, then the end of the stream");

    /* Messages larger than the framing's limit are refused at send. */
    tcphub_client *small = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LINES, 4, &small));
    CHECK_RC(tcphub_client_send(small, (const uint8_t *)"too long", 8), TCPHUB_ERR_FRAME_TOO_LARGE);
    tcphub_client_free(small);
    TEST_PASS("FRAME_TOO_LARGE on the client side");

    /* Threads waiting without limit are woken by a close from another
     * thread (NOT_RUNNING), so they can be joined before the free. */
    tcphub_client *waited = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LENGTH_PREFIXED, 0, &waited));
    pthread_t waiters[2];
    CHECK(pthread_create(&waiters[0], NULL, recv_waiter, waited) == 0);
    CHECK(pthread_create(&waiters[1], NULL, event_waiter, waited) == 0);
    CHECK_OK(tcphub_client_close(waited));
    CHECK(pthread_join(waiters[0], NULL) == 0 && pthread_join(waiters[1], NULL) == 0);
    CHECK_RC(waiter_rc[0], TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(waiter_rc[1], TCPHUB_ERR_NOT_RUNNING);
    tcphub_client_free(waited);
    TEST_PASS("close wakes threads waiting in recv / next_event; then free");

    /* The server going away ends the client's stream. */
    CHECK_OK(tcphub_server_stop(s));
    CHECK_RC(tcphub_client_recv(c, &m, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    WAIT_UNTIL(!tcphub_client_is_connected(c));
    tcphub_client_free(c);
    tcphub_server_free(s);
    TEST_PASS("server stop: recv reports NOT_RUNNING");
    return 0;
}
