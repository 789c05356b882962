/* Error codes: NULL arguments, invalid arguments, bind conflict, unknown
 * client, not running, frame too large; strerror and last_error. */
#include "test_util.h"

static int other_thread_error_len = -1;

static void *read_last_error(void *arg) {
    (void)arg;
    /* The string belongs to this thread: look at it before the thread ends. */
    other_thread_error_len = (int)strlen(tcphub_last_error());
    return NULL;
}

int main(void) {
    const uint8_t *x = (const uint8_t *)"x";
    tcphub_event ev;

    /* Every server function reports a NULL server. */
    CHECK_RC(tcphub_server_set_bind_ip(NULL, "127.0.0.1"), TCPHUB_ERR_NULL);
    CHECK(strstr(tcphub_last_error(), "tcphub_server_set_bind_ip") != NULL);
    CHECK_RC(tcphub_server_set_framing(NULL, TCPHUB_FRAMING_RAW, 0), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_threads(NULL, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_on_connect(NULL, NULL, NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_on_message(NULL, NULL, NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_on_disconnect(NULL, NULL, NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_userdata_free(NULL, NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_start(NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_send_all(NULL, x, 1, NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_send_all_except(NULL, 1, x, 1, NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_send_to(NULL, "127.0.0.1", 1, x, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_send(NULL, 1, x, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_disconnect(NULL, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_next_event(NULL, &ev, 0), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_stop(NULL), TCPHUB_ERR_NULL);
    CHECK(tcphub_server_port(NULL) == 0);
    CHECK(!tcphub_server_is_running(NULL));
    CHECK(tcphub_server_client_count(NULL) == 0);
    CHECK(strstr(tcphub_last_error(), "server is NULL") != NULL);
    TEST_PASS("NULL server: TCPHUB_ERR_NULL everywhere");

    /* strerror: a distinct static text per code. */
    const int codes[] = {TCPHUB_OK, TCPHUB_ERR_NULL, TCPHUB_ERR_INVALID_ARG, TCPHUB_ERR_BIND,
                         TCPHUB_ERR_CONNECT, TCPHUB_ERR_NO_SUCH_CLIENT, TCPHUB_ERR_NOT_RUNNING,
                         TCPHUB_ERR_FRAME_TOO_LARGE, TCPHUB_ERR_QUEUE_FULL, TCPHUB_ERR_TIMEOUT,
                         TCPHUB_ERR_IO, TCPHUB_ERR_INVALID_MESSAGE, TCPHUB_ERR_ALREADY_RUNNING,
                         TCPHUB_ERR_PANIC};
    const size_t ncodes = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < ncodes; i++) {
        CHECK(i == 0 || codes[i] < 0);
        CHECK(strlen(tcphub_strerror(codes[i])) > 0);
        for (size_t j = 0; j < i; j++) {
            CHECK(codes[i] != codes[j]);
            CHECK(strcmp(tcphub_strerror(codes[i]), tcphub_strerror(codes[j])) != 0);
        }
    }
    CHECK(strcmp(tcphub_strerror(12345), "unknown error code") == 0);
    TEST_PASS("strerror: distinct text for each distinct code");

    /* reason_str: the Rust API's words, a distinct text per reason. */
    const int reasons[] = {TCPHUB_REASON_CLOSED_BY_PEER, TCPHUB_REASON_RESET, TCPHUB_REASON_IO,
                           TCPHUB_REASON_FRAME_TOO_LARGE, TCPHUB_REASON_SLOW_CONSUMER,
                           TCPHUB_REASON_IDLE_TIMEOUT, TCPHUB_REASON_KICKED,
                           TCPHUB_REASON_SERVER_STOPPED, TCPHUB_REASON_CLOSED_LOCALLY,
                           TCPHUB_REASON_FRAME_TIMEOUT, TCPHUB_REASON_RECONNECT_GAVE_UP};
    const size_t nreasons = sizeof reasons / sizeof reasons[0];
    for (size_t i = 0; i < nreasons; i++) {
        CHECK(strlen(tcphub_reason_str(reasons[i])) > 0);
        CHECK(strcmp(tcphub_reason_str(reasons[i]), "unknown reason") != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(tcphub_reason_str(reasons[i]), tcphub_reason_str(reasons[j])) != 0);
    }
    CHECK(strcmp(tcphub_reason_str(TCPHUB_REASON_CLOSED_BY_PEER), "closed by peer") == 0);
    CHECK(strcmp(tcphub_reason_str(TCPHUB_REASON_SLOW_CONSUMER), "slow consumer") == 0);
    CHECK(strcmp(tcphub_reason_str(-1), "unknown reason") == 0);
    CHECK(strcmp(tcphub_reason_str(12345), "unknown reason") == 0);
    TEST_PASS("reason_str: distinct text for each reason");

    /* last_error is per thread: a fresh thread has none. */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, read_last_error, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(other_thread_error_len == 0);
    TEST_PASS("last_error is thread-local");

    tcphub_server *s = tcphub_server_new(0, 8);
    CHECK(s != NULL);
    CHECK_RC(tcphub_server_set_bind_ip(s, "not an ip"), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "not an ip") != NULL);
    CHECK_RC(tcphub_server_set_bind_ip(s, NULL), TCPHUB_ERR_NULL);
    /* IPv6 also in brackets, as tcphub prints it ("[::1]:8001") and as
     * tcphub_server_send_to and `tcphub serve --bind` take it; not with a
     * zone, a port, or around IPv4. */
    CHECK_OK(tcphub_server_set_bind_ip(s, "[::1]"));
    CHECK_RC(tcphub_server_set_bind_ip(s, "[127.0.0.1]"), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_server_set_bind_ip(s, "[::1]:80"), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_server_set_bind_ip(s, "fe80::1%lo"), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_server_set_framing(s, 99, 0), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_server_set_framing(s, -1, 0), TCPHUB_ERR_INVALID_ARG);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    CHECK_OK(tcphub_server_set_threads(s, 0));
    CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_INVALID_ARG);
    CHECK(!tcphub_server_is_running(s));
    CHECK_OK(tcphub_server_set_threads(s, 1));
    TEST_PASS("invalid ip text, framing value and thread count");

    CHECK_RC(tcphub_server_send(s, 1, x, 1), TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(tcphub_server_send_all(s, x, 1, NULL), TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(tcphub_server_disconnect(s, 1), TCPHUB_ERR_NOT_RUNNING);
    TEST_PASS("calls before start: NOT_RUNNING");

    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 4));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);

    /* A second server on the same address: bind conflict. */
    tcphub_server *s2 = tcphub_server_new(port, 8);
    CHECK_OK(tcphub_server_set_bind_ip(s2, "127.0.0.1"));
    CHECK_RC(tcphub_server_start(s2), TCPHUB_ERR_BIND);
    CHECK(strstr(tcphub_last_error(), "address in use") != NULL);
    CHECK(!tcphub_server_is_running(s2));
    CHECK(tcphub_server_port(s2) == 0);
    tcphub_server_free(s2);
    TEST_PASS("bind conflict: TCPHUB_ERR_BIND, address in use");

    CHECK_RC(tcphub_server_send(s, 424242, x, 1), TCPHUB_ERR_NO_SUCH_CLIENT);
    CHECK(strstr(tcphub_last_error(), "424242") != NULL);
    CHECK_RC(tcphub_server_disconnect(s, 424242), TCPHUB_ERR_NO_SUCH_CLIENT);
    CHECK_RC(tcphub_server_send_to(s, "127.0.0.1", closed_port(), x, 1), TCPHUB_ERR_NO_SUCH_CLIENT);
    TEST_PASS("unknown client id or ip:port: NO_SUCH_CLIENT");

    CHECK_RC(tcphub_server_send_to(s, "127.0.0.300", 1, x, 1), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "the client's IP address (e.g. '127.0.0.1' or '::1'), "
                                      "got '127.0.0.300', which is not an IP address") != NULL);
    /* send_to finds a client by the address it connected from: a host name
     * is not resolved, and the message says that is what it got. */
    CHECK_RC(tcphub_server_send_to(s, "localhost", 1, x, 1), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "got the host name 'localhost' (host names are not resolved)") !=
          NULL);
    CHECK_RC(tcphub_server_send_to(s, NULL, 1, x, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_send(s, 1, NULL, 5), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_send_all(s, NULL, 3, NULL), TCPHUB_ERR_NULL);
    size_t queued = 99;
    CHECK_OK(tcphub_server_send_all(s, NULL, 0, &queued)); /* empty message, nobody there */
    CHECK(queued == 0);
    CHECK_RC(tcphub_server_send_all(s, (const uint8_t *)"too long", 8, NULL), TCPHUB_ERR_FRAME_TOO_LARGE);
    CHECK_RC(tcphub_server_send_all_except(s, 1, (const uint8_t *)"too long", 8, NULL),
             TCPHUB_ERR_FRAME_TOO_LARGE);
    TEST_PASS("bad ip text, NULL data, frame too large");

    /* A failed call leaves last_error; a successful one leaves it unchanged. */
    CHECK_RC(tcphub_server_set_framing(s, TCPHUB_FRAMING_RAW, 0), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK(strstr(tcphub_last_error(), "tcphub_server_set_framing") != NULL);
    CHECK(tcphub_server_is_running(s));
    CHECK(strstr(tcphub_last_error(), "tcphub_server_set_framing") != NULL);
    TEST_PASS("last_error names the failing call");

    CHECK_OK(tcphub_server_stop(s));
    CHECK_RC(tcphub_server_send(s, 1, x, 1), TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(tcphub_server_send_all(s, x, 1, NULL), TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(tcphub_server_send_all_except(s, 1, x, 1, NULL), TCPHUB_ERR_NOT_RUNNING);
    tcphub_server_free(s);
    TEST_PASS("calls after stop: NOT_RUNNING");
    return 0;
}
