/* Many start/stop cycles: fresh servers with a client round trip each, one
 * server restarted repeatedly, and client connect/free; short-lived
 * application threads calling the API. The sanitizer and valgrind runs
 * check memory (a thread's last error and disconnect detail must go with
 * it); this test checks file descriptors and threads. Set TCPHUB_CYCLES to
 * change the count (the valgrind run uses fewer). */
#include "test_util.h"

#include <dirent.h>

static int entries(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    while (readdir(d) != NULL) n++;
    closedir(d);
    return n;
}

static int open_fds(void) { return entries("/proc/self/fd"); }
static int threads(void) { return entries("/proc/self/task"); }

static tcphub_server *busy_server;
static uint16_t refused_port;

/* An application thread that sends, fails (its last error and errno),
 * and ends: what tcphub keeps per thread must end with it. */
static void *app_thread(void *arg) {
    (void)arg;
    size_t queued = 0;
    CHECK_OK(tcphub_server_send_all(busy_server, (const uint8_t *)"hi", 2, &queued));
    CHECK_RC(tcphub_server_send(busy_server, 987654321, (const uint8_t *)"x", 1),
             TCPHUB_ERR_NO_SUCH_CLIENT);
    tcphub_client *c = NULL;
    CHECK_RC(tcphub_client_connect("127.0.0.1", refused_port, TCPHUB_FRAMING_RAW, 0, &c),
             TCPHUB_ERR_CONNECT);
    CHECK(strstr(tcphub_last_error(), "tcphub_client_connect") != NULL);
    CHECK(tcphub_last_errno() == ECONNREFUSED);
    (void)tcphub_disconnect_detail();
    return NULL;
}

static void echo(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    CHECK_OK(tcphub_server_send((tcphub_server *)ud, id, data, len));
}

int main(void) {
    const char *env = getenv("TCPHUB_CYCLES");
    int cycles = env ? atoi(env) : 100;
    CHECK(cycles > 0);
    int fds_before = open_fds();
    int threads_before = threads();

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
    WAIT_UNTIL(threads() == threads_before);
    TEST_PASS("new/start/echo/stop/free cycles leave no descriptor or thread behind");

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
    WAIT_UNTIL(threads() == threads_before);
    TEST_PASS("one server restarted many times with a client each time");

    busy_server = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_start(busy_server));
    int held = refusing_local(&refused_port);
    int with_loops = threads();
    for (int i = 0; i < cycles; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, app_thread, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);
        /* (A joined thread may still be listed a moment: it leaves the
         * list after it woke its joiner.) */
        WAIT_UNTIL(threads() == with_loops);
    }
    close(held);
    tcphub_server_free(busy_server);
    CHECK(open_fds() == fds_before);
    WAIT_UNTIL(threads() == threads_before);
    TEST_PASS("short-lived application threads calling the API leave nothing behind");
    return 0;
}
