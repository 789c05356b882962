/* Readiness descriptors: a server's or client's pull-mode events waited
 * for with poll(2), as in an application's own event loop. Armed, the
 * descriptor turns readable at the next event or at the end; arm answers 0
 * while something can be taken. */
#include "test_util.h"

static int readable(const tcphub_ready_fd *r, int ms) {
    struct pollfd p = {.fd = tcphub_ready_fd_fileno(r), .events = POLLIN};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

int main(void) {
    tcphub_event ev;
    tcphub_ready_fd *r = (tcphub_ready_fd *)1;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_RC(tcphub_server_ready_fd(s, &r), TCPHUB_ERR_NOT_RUNNING);
    CHECK(r == NULL);
    CHECK_RC(tcphub_server_ready_fd(s, NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_ready_fd_arm(NULL), TCPHUB_ERR_NULL);
    CHECK(tcphub_ready_fd_fileno(NULL) == -1);
    tcphub_ready_fd_free(NULL);
    TEST_PASS("never started, NULLs: clear errors");

    CHECK_OK(tcphub_server_start(s));
    CHECK_OK(tcphub_server_ready_fd(s, &r));
    CHECK(tcphub_ready_fd_fileno(r) >= 0);
    CHECK(tcphub_ready_fd_arm(r) == 1);
    CHECK(!readable(r, 50));
    int fd = connect_to(tcphub_server_port(s));
    CHECK(readable(r, WAIT_MS));
    CHECK(tcphub_ready_fd_arm(r) == 0); /* the CONNECTED event waits */
    CHECK(!readable(r, 0));             /* and arm read the wakeup */
    CHECK_OK(tcphub_server_next_event(s, &ev, 0));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    TEST_PASS("armed: readable at the next event and not before");

    /* 2,000 lines taken by a loop that only ever waits on the descriptor. */
    char line[32];
    int got = 0, waits = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(line, sizeof line, "%d\n", i);
        write_str(fd, line);
        while (got <= i) {
            int rc = tcphub_server_next_event(s, &ev, 0);
            if (rc == TCPHUB_OK) {
                CHECK(ev.kind == TCPHUB_EVENT_MESSAGE);
                snprintf(line, sizeof line, "%d", got);
                CHECK(ev.len == strlen(line) && memcmp(ev.data, line, ev.len) == 0);
                tcphub_event_release(&ev);
                got++;
                continue;
            }
            CHECK_RC(rc, TCPHUB_ERR_TIMEOUT);
            if (tcphub_ready_fd_arm(r) == 1) {
                waits++;
                CHECK(readable(r, WAIT_MS));
            }
        }
    }
    CHECK(got == 2000 && waits > 0);
    TEST_PASS("every line, waiting only on the descriptor");

    CHECK(tcphub_ready_fd_arm(r) == 1);
    CHECK_OK(tcphub_server_stop(s));
    CHECK(readable(r, WAIT_MS));
    CHECK(tcphub_ready_fd_arm(r) == 0); /* stopped: take */
    CHECK_OK(tcphub_server_next_event(s, &ev, 0));
    CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED);
    tcphub_event_release(&ev);
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_NOT_RUNNING);
    tcphub_server_free(s);
    CHECK(tcphub_ready_fd_arm(r) == 0); /* outlives its server */
    tcphub_ready_fd_free(r);
    close(fd);
    TEST_PASS("the stop wakes it; it outlives the server");

    /* A descriptor made before a restart watches the ended run: arming it
     * says so, rather than answering "take" for good while next_event
     * takes from the new run (a consumer loop spun at 100% CPU). */
    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    CHECK_OK(tcphub_server_ready_fd(s, &r));
    CHECK(tcphub_ready_fd_arm(r) == 1);
    CHECK_OK(tcphub_server_stop(s));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_ready_fd_arm(r), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "started again") != NULL);
    tcphub_ready_fd_free(r);
    CHECK_OK(tcphub_server_ready_fd(s, &r)); /* a new one, for the new run */
    CHECK(tcphub_ready_fd_arm(r) == 1);
    tcphub_server_free(s);
    CHECK(tcphub_ready_fd_arm(r) == 0); /* still outlives its server */
    tcphub_ready_fd_free(r);
    TEST_PASS("a descriptor from before a restart says so when armed");

    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(s, ignore_message, NULL));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_ready_fd(s, &r), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "callback") != NULL);
    tcphub_server_free(s);
    TEST_PASS("callback mode: none");

    /* A client's messages and its end. */
    uint16_t port;
    int lst = listen_local(&port);
    tcphub_client *c;
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LINES, 0, &c));
    int peer = accept(lst, NULL, NULL);
    CHECK(peer >= 0);
    CHECK_OK(tcphub_client_ready_fd(c, &r));
    CHECK(tcphub_ready_fd_arm(r) == 1);
    write_str(peer, "hello\n");
    CHECK(readable(r, WAIT_MS));
    tcphub_message m;
    CHECK_OK(tcphub_client_recv(c, &m, 0));
    CHECK(m.len == 5 && memcmp(m.data, "hello", 5) == 0);
    tcphub_message_release(&m);
    CHECK(tcphub_ready_fd_arm(r) == 1);
    close(peer);
    int rc;
    while ((rc = tcphub_client_recv(c, &m, 0)) == TCPHUB_ERR_TIMEOUT)
        if (tcphub_ready_fd_arm(r) == 1) CHECK(readable(r, WAIT_MS));
    CHECK_RC(rc, TCPHUB_ERR_NOT_RUNNING);
    CHECK(tcphub_ready_fd_arm(r) == 0); /* ended: nothing to wait for */
    tcphub_client_free(c);
    tcphub_ready_fd_free(r);
    close(lst);
    TEST_PASS("a client's: its message and its end");
    return 0;
}
