/* Review cg: what a C program expects of a library's descriptors and
 * signals. Every descriptor tcphub opens (listening and accepted sockets,
 * a client's socket, its wakeup eventfds and epoll instances, a ready fd)
 * is close-on-exec, so a fork+exec of the application leaks none of them
 * into the child program; and writes to a peer that has gone never raise
 * SIGPIPE, whose default action would kill the C program (a Rust cdylib
 * does not get the Rust runtime's SIG_IGN for it). */
#include "test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

/* Descriptors open now, as a bitmap over [0, max). */
static void open_fds(unsigned char *open, int max) {
    for (int fd = 0; fd < max; fd++) open[fd] = fcntl(fd, F_GETFD) != -1;
}

int main(void) {
    enum { MAX = 1024 };
    static unsigned char before[MAX], after[MAX];
    signal(SIGPIPE, SIG_DFL); /* the C default, whatever the shell left */
    open_fds(before, MAX);

    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_set_linger(s, 0));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    tcphub_ready_fd *r = NULL;
    CHECK_OK(tcphub_server_ready_fd(s, &r));
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LINES, 0, &c));
    tcphub_ready_fd *cr = NULL;
    CHECK_OK(tcphub_client_ready_fd(c, &cr));
    uint64_t id = expect_connected(s);

    int fd = connect_to(port);
    uint64_t raw_id = expect_connected(s);
    int mine = fd;

    open_fds(after, MAX);
    int opened = 0;
    for (int i = 0; i < MAX; i++) {
        if (!after[i] || before[i] || i == mine) continue;
        opened++;
        int flags = fcntl(i, F_GETFD);
        if (!(flags & FD_CLOEXEC)) {
            char path[64], target[256] = "?";
            snprintf(path, sizeof path, "/proc/self/fd/%d", i);
            ssize_t n = readlink(path, target, sizeof target - 1);
            if (n > 0) target[n] = '\0';
            fprintf(stderr, "descriptor %d (%s) is not close-on-exec\n", i, target);
            exit(1);
        }
    }
    CHECK(opened >= 5);
    TEST_PASS("every descriptor tcphub opened is close-on-exec");

    /* The plain client resets its connection (linger 0), then the server
     * writes to it until the write fails: EPIPE, not a signal. */
    struct linger lg = {1, 0};
    CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    close(fd);
    static uint8_t big[60000];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 200; i++) {
        if (tcphub_server_send(s, raw_id, big, sizeof big) != TCPHUB_OK) break;
    }
    for (;;) { /* its end: a reset (or the failed write's error) */
        tcphub_event ev;
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        int done = ev.kind == TCPHUB_EVENT_DISCONNECTED && ev.client_id == raw_id;
        int reason = ev.reason;
        tcphub_event_release(&ev);
        if (done) {
            CHECK(reason == TCPHUB_REASON_RESET || reason == TCPHUB_REASON_IO);
            break;
        }
    }
    /* The same from the client side: the server goes away under it. */
    CHECK_OK(tcphub_server_disconnect(s, id));
    for (int i = 0; i < 200 && tcphub_client_is_connected(c); i++)
        (void)tcphub_client_send(c, (const uint8_t *)"x", 1);
    WAIT_UNTIL(!tcphub_client_is_connected(c));
    (void)tcphub_client_send(c, (const uint8_t *)"x", 1);
    TEST_PASS("writes to a peer that went away raise no SIGPIPE");

    tcphub_ready_fd_free(cr);
    tcphub_client_free(c);
    tcphub_ready_fd_free(r);
    CHECK_OK(tcphub_server_stop(s));
    tcphub_server_free(s);
    return 0;
}
