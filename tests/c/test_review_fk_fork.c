/* Review fk: fork() inside a callback, and a readiness descriptor armed in
 * a forked child.
 * - A child forked in on_message that returns from the callback (a worker
 *   that forgot to _exit) is a copy of the loop thread: it went on running
 *   the parent's loop on the shared epoll instance and sockets, taking the
 *   parent's clients' input. It must end instead, the parent serving on.
 * - A tcphub_ready_fd made before the fork is the parent's descriptor too:
 *   the child's tcphub_ready_fd_arm read away the parent's wakeup. */
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

static pid_t parent_pid;
static volatile pid_t forked_pid; /* set in the parent's callback */

static void on_msg(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    tcphub_server *s = ud;
    if (len == 4 && memcmp(data, "fork", 4) == 0) {
        pid_t pid = fork();
        if (pid != 0) { /* the parent (or a failed fork) */
            forked_pid = pid;
            (void)tcphub_server_send(s, id, (const uint8_t *)"forked", 6);
        }
        return; /* the child returns into the loop: the case tested */
    }
    if (getpid() == parent_pid) {
        (void)tcphub_server_send(s, id, data, len);
    } else {
        (void)tcphub_server_send(s, id, (const uint8_t *)"STOLEN", 6);
    }
}

/* Waits (bounded) for `pid`; whether it ended. */
static int child_ended(pid_t pid) {
    int status = 0;
    int64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        CHECK(r >= 0);
        if (r == pid) return 1;
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return 0;
        }
        nap_ms(5);
    }
}

static int readable(const tcphub_ready_fd *r, int ms) {
    struct pollfd p = {.fd = tcphub_ready_fd_fileno(r), .events = POLLIN};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

int main(void) {
    parent_pid = getpid();
    fflush(NULL);
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(s, on_msg, s));
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    write_str(fd, "fork\n");
    EXPECT_LINE(fd, "forked");
    CHECK(forked_pid > 0);
    char line[32];
    for (int i = 0; i < 200; i++) {
        snprintf(line, sizeof line, "m%d\n", i);
        write_str(fd, line);
        line[strlen(line) - 1] = 0;
        EXPECT_LINE(fd, line);
    }
    CHECK(child_ended(forked_pid));
    close(fd);
    CHECK_OK(tcphub_server_stop(s));
    tcphub_server_free(s);
    TEST_PASS("a child forked in a callback that returns takes nothing and ends");

    tcphub_server *p = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(p));
    tcphub_ready_fd *r = NULL;
    CHECK_OK(tcphub_server_ready_fd(p, &r));
    CHECK(tcphub_ready_fd_arm(r) == 1);
    int fd2 = connect_to(tcphub_server_port(p));
    CHECK(readable(r, WAIT_MS));
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int armed = tcphub_ready_fd_arm(r); /* 0: take (nothing will come) */
        _exit(armed == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(child_ended(pid));
    CHECK(readable(r, 0)); /* the parent's wakeup is still there */
    CHECK(tcphub_ready_fd_arm(r) == 0);
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(p, &ev, 0));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    (void)status;
    tcphub_ready_fd_free(r);
    close(fd2);
    CHECK_OK(tcphub_server_stop(p));
    tcphub_server_free(p);
    TEST_PASS("a child's arm leaves the parent's descriptor readable");
    return 0;
}
