/* Review "er": a receive that has nothing more to give, because the client
 * is closed or the server stopped, returns TCPHUB_ERR_NOT_RUNNING — and
 * tcphub_last_error() says which and why, as the refused sends do ("the
 * client is closed", "the server is stopped"), not a bare "not running". */
#include "test_util.h" /* first: it sets _POSIX_C_SOURCE */

/* The detail after "function: ", which must say more than "not running". */
static void check_detail(const char *func, const char *want) {
    const char *e = tcphub_last_error();
    size_t n = strlen(func);
    CHECK(strncmp(e, func, n) == 0 && strncmp(e + n, ": ", 2) == 0);
    if (strstr(e + n + 2, want) == NULL) {
        fprintf(stderr, "last_error \"%s\" does not say \"%s\"\n", e, want);
        CHECK(0);
    }
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));

    /* A client closed locally: recv and next_event end. */
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(s), TCPHUB_FRAMING_LINES, 0, &c));
    CHECK_OK(tcphub_client_close(c));
    tcphub_message m;
    CHECK_RC(tcphub_client_recv(c, &m, 0), TCPHUB_ERR_NOT_RUNNING);
    check_detail("tcphub_client_recv", "the client is closed");
    CHECK_RC(tcphub_client_recv(c, &m, -1), TCPHUB_ERR_NOT_RUNNING);
    check_detail("tcphub_client_recv", "the client is closed");
    tcphub_client_event ce;
    int rc;
    while ((rc = tcphub_client_next_event(c, &ce, WAIT_MS)) == TCPHUB_OK) tcphub_client_event_release(&ce);
    CHECK_RC(rc, TCPHUB_ERR_NOT_RUNNING);
    check_detail("tcphub_client_next_event", "the client is closed");
    tcphub_client_free(c);
    TEST_PASS("closed client: recv and next_event say the client is closed");

    /* The peer ends the connection: its reason is named. */
    uint16_t port;
    int l = listen_local(&port);
    c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LINES, 0, &c));
    int fd = accept(l, NULL, NULL);
    CHECK(fd >= 0);
    close(fd);
    close(l);
    CHECK_RC(tcphub_client_recv(c, &m, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    check_detail("tcphub_client_recv", "the connection is closed (closed by peer)");
    tcphub_client_free(c);
    TEST_PASS("connection ended by the peer: recv names it");

    /* A stopped pull-mode server, every event taken. */
    CHECK_OK(tcphub_server_stop(s));
    tcphub_event ev;
    while ((rc = tcphub_server_next_event(s, &ev, WAIT_MS)) == TCPHUB_OK) tcphub_event_release(&ev);
    CHECK_RC(rc, TCPHUB_ERR_NOT_RUNNING);
    check_detail("tcphub_server_next_event", "the server is stopped");
    CHECK_RC(tcphub_server_next_event(s, &ev, -1), TCPHUB_ERR_NOT_RUNNING);
    check_detail("tcphub_server_next_event", "the server is stopped");
    tcphub_server_free(s);
    TEST_PASS("stopped server: next_event says the server is stopped");
    return 0;
}
