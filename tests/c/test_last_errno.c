/* tcphub_last_errno(): the OS error number behind this thread's last
 * failure, as Rust's Error::io_error() and Python's OSError.errno give it —
 * EADDRINUSE behind a bind conflict, ECONNREFUSED behind a refused
 * connect — and 0 for a failure no system call reported. It goes with
 * tcphub_last_error(): successful calls leave it, each thread has its own.
 * tcphub_last_gai_error(): the resolver's EAI_* code behind a host name
 * that did not resolve, 0 for every other failure. */
#include "test_util.h" /* first: it sets _POSIX_C_SOURCE */

#include <netdb.h>

static int other_thread_errno = -1;

static void *read_last_errno(void *arg) {
    (void)arg;
    other_thread_errno = tcphub_last_errno();
    return NULL;
}

int main(void) {
    CHECK(tcphub_last_errno() == 0);
    TEST_PASS("no failure yet: 0");

    /* A port in use: TCPHUB_ERR_BIND, and why. */
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    tcphub_server *busy = tcphub_server_new(tcphub_server_port(s), 4);
    CHECK(busy != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(busy, "127.0.0.1"));
    CHECK_RC(tcphub_server_start(busy), TCPHUB_ERR_BIND);
    CHECK(tcphub_last_errno() == EADDRINUSE);
    /* Successful calls and queries leave it, as they leave last_error. */
    CHECK(tcphub_server_port(busy) == 0);
    CHECK_OK(tcphub_server_set_threads(busy, 1));
    CHECK(strstr(tcphub_last_error(), "address in use") != NULL);
    CHECK(tcphub_last_errno() == EADDRINUSE);
    TEST_PASS("bind conflict: EADDRINUSE, kept across successful calls");

    /* Per thread: another thread has no failure. */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, read_last_errno, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(other_thread_errno == 0);
    CHECK(tcphub_last_errno() == EADDRINUSE);
    TEST_PASS("per thread");

    /* A failure of tcphub's own (no system call behind it) resets it to 0. */
    const uint8_t *x = (const uint8_t *)"x";
    CHECK_RC(tcphub_server_send(s, 12345, x, 1), TCPHUB_ERR_NO_SUCH_CLIENT);
    CHECK(tcphub_last_errno() == 0);
    CHECK_RC(tcphub_server_set_bind_ip(busy, "not an ip"), TCPHUB_ERR_INVALID_ARG);
    CHECK(tcphub_last_errno() == 0);
    TEST_PASS("no OS error behind the failure: 0");

    /* A refused connection: TCPHUB_ERR_CONNECT with ECONNREFUSED. */
    uint16_t port;
    int refusing = refusing_local(&port);
    tcphub_client *c = NULL;
    CHECK_RC(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_RAW, 0, &c),
             TCPHUB_ERR_CONNECT);
    CHECK(c == NULL);
    CHECK(tcphub_last_errno() == ECONNREFUSED);
    CHECK(tcphub_last_gai_error() == 0);
    close(refusing);
    TEST_PASS("refused connect: ECONNREFUSED");

    /* A name that does not resolve (a label over 63 bytes fails in the
     * resolver without asking any name server): the resolver's code, no
     * errno; the next failure of another kind clears it. */
    CHECK(tcphub_last_gai_error() == 0);
    char name[80];
    memset(name, 'a', 64);
    strcpy(name + 64, ".invalid");
    CHECK_RC(tcphub_client_connect(name, 1, TCPHUB_FRAMING_RAW, 0, &c), TCPHUB_ERR_CONNECT);
    CHECK(c == NULL);
    CHECK(tcphub_last_gai_error() == EAI_NONAME);
    CHECK(tcphub_last_errno() == 0);
    CHECK(strstr(tcphub_last_error(), gai_strerror(EAI_NONAME)) != NULL);
    CHECK_OK(tcphub_server_set_threads(busy, 1));
    CHECK(tcphub_last_gai_error() == EAI_NONAME);
    CHECK_RC(tcphub_server_send(s, 12345, x, 1), TCPHUB_ERR_NO_SUCH_CLIENT);
    CHECK(tcphub_last_gai_error() == 0);
    TEST_PASS("unresolvable name: EAI_NONAME, not an errno");

    tcphub_server_free(busy);
    tcphub_server_free(s);
    return 0;
}
