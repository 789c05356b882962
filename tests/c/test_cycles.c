/* Many start/stop cycles: fresh servers with a client round trip each, one
 * server restarted repeatedly, and client connect/free. The sanitizer and
 * valgrind runs check memory; this test checks file descriptors. Set
 * TCPHUB_CYCLES to change the count (the valgrind run uses fewer). */
#include "test_util.h"

#include <dirent.h>

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    while (readdir(d) != NULL) n++;
    closedir(d);
    return n;
}

static void echo(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    CHECK_OK(tcphub_server_send((tcphub_server *)ud, id, data, len));
}

int main(void) {
    const char *env = getenv("TCPHUB_CYCLES");
    int cycles = env ? atoi(env) : 100;
    CHECK(cycles > 0);
    int fds_before = open_fds();

    for (int i = 0; i < cycles; i++) {
        tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
        CHECK_OK(tcphub_server_set_threads(s, 1 + i % 2));
        CHECK_OK(tcphub_server_on_message(s, echo, s));
        CHECK_OK(tcphub_server_start(s));
        int fd = connect_to(tcphub_server_port(s));
        write_str(fd, "ping\n");
        EXPECT_LINE(fd, "ping");
        if (i % 2) CHECK_OK(tcphub_server_stop(s));
        tcphub_server_free(s);
        expect_eof(fd);
        close(fd);
    }
    CHECK(open_fds() == fds_before);
    TEST_PASS("new/start/echo/stop/free cycles leave no descriptor behind");

    tcphub_server *s = new_local_server(TCPHUB_FRAMING_RAW);
    for (int i = 0; i < cycles; i++) {
        CHECK_OK(tcphub_server_start(s));
        tcphub_client *c = NULL;
        CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(s), TCPHUB_FRAMING_RAW, 0, &c));
        tcphub_event ev;
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
        tcphub_event_release(&ev);
        CHECK_OK(tcphub_client_send(c, (const uint8_t *)"hello", 5));
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        CHECK(ev.kind == TCPHUB_EVENT_MESSAGE);
        tcphub_event_release(&ev);
        if (i % 3 == 0) {
            /* Leave an event queued and an open client: stop must still clean up. */
            CHECK_OK(tcphub_server_stop(s));
            tcphub_client_free(c);
        } else {
            tcphub_client_free(c);
            CHECK_OK(tcphub_server_stop(s));
        }
    }
    tcphub_server_free(s);
    CHECK(open_fds() == fds_before);
    TEST_PASS("one server restarted many times with a client each time");
    return 0;
}
