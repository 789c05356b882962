/* The less common settings (overflow policy, linger, keepalive, nodelay,
 * backlog, event capacity, the notice for refused connections) and
 * tcphub_server_stats. */
#include "test_util.h"

#define MSGS 1000
#define MSG_LEN (32 * 1024)

/* A started raw-framing server with the given overflow policy and a small
 * queue, and one connected client that never reads. Returns the server;
 * *fd_out is the client's socket. */
static tcphub_server *server_with_non_reader(int policy, int *fd_out) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_overflow(s, policy));
    CHECK_OK(tcphub_server_set_max_queue_bytes(s, 256 * 1024));
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_start(s));
    *fd_out = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    return s;
}

static uint64_t delivered_or_dropped(const tcphub_server *s) {
    tcphub_stats st = stats_of(s);
    return st.msgs_out + st.dropped;
}

/* Sends MSGS messages of MSG_LEN bytes (32 MB: far more than the socket
 * buffers and the queue hold) to everyone. */
static void flood(tcphub_server *s) {
    static uint8_t msg[MSG_LEN];
    memset(msg, 'x', sizeof msg);
    for (int i = 0; i < MSGS; i++) CHECK_OK(tcphub_server_send_all(s, msg, sizeof msg, NULL));
}

int main(void) {
    tcphub_stats st;
    memset(&st, 0xff, sizeof st);
    CHECK_RC(tcphub_server_stats(NULL, &st), TCPHUB_ERR_NULL);
    CHECK(st.accepted == 0 && st.callback_panics == 0); /* zeroed on failure */
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_RC(tcphub_server_stats(s, NULL), TCPHUB_ERR_NULL);
    memset(&st, 0xff, sizeof st);
    CHECK_OK(tcphub_server_stats(s, &st));
    CHECK(st.clients == 0 && st.accepted == 0 && st.msgs_in == 0 && st.bytes_out == 0);
    TEST_PASS("stats: NULL arguments, all zero before start");

    CHECK_RC(tcphub_server_set_overflow(NULL, TCPHUB_OVERFLOW_DISCONNECT), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_linger(NULL, 0), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_keepalive(NULL, 0), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_nodelay(NULL, true), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_backlog(NULL, 16), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_event_capacity(NULL, 16), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_full_message(NULL, NULL, 0), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_full_message(s, NULL, 3), TCPHUB_ERR_NULL);
    CHECK(strstr(tcphub_last_error(), "msg is NULL but len is 3") != NULL);
    CHECK_RC(tcphub_server_set_overflow(s, 2), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "overflow") != NULL);
    CHECK_RC(tcphub_server_set_overflow(s, -1), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_server_set_backlog(s, 0), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "backlog") != NULL);
    TEST_PASS("setters: NULL server, unknown policy, backlog below 1");

    CHECK_OK(tcphub_server_set_linger(s, 100));
    CHECK_OK(tcphub_server_set_keepalive(s, 30000));
    CHECK_OK(tcphub_server_set_nodelay(s, false));
    CHECK_OK(tcphub_server_set_backlog(s, 64));
    CHECK_OK(tcphub_server_set_event_capacity(s, 4));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_set_overflow(s, TCPHUB_OVERFLOW_DROP_MESSAGE), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_linger(s, 0), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_keepalive(s, 0), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_nodelay(s, true), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_backlog(s, 16), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_event_capacity(s, 16), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_set_full_message(s, (const uint8_t *)"x", 1), TCPHUB_ERR_ALREADY_RUNNING);
    TEST_PASS("setters refuse a running server");

    /* Pull mode with a 4-event queue: 100 lines all arrive, in order (the
     * server stops reading while the queue is full, losing nothing). */
    int fd = connect_to(tcphub_server_port(s));
    char lines[100 * 8] = "";
    for (int i = 0; i < 100; i++) {
        size_t used = strlen(lines);
        snprintf(lines + used, sizeof lines - used, "%d\n", i);
    }
    write_str(fd, lines);
    int next = 0;
    while (next < 100) {
        tcphub_event ev;
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        if (ev.kind == TCPHUB_EVENT_MESSAGE) {
            char want[16];
            snprintf(want, sizeof want, "%d", next++);
            CHECK(ev.len == strlen(want) && memcmp(ev.data, want, ev.len) == 0);
        }
        tcphub_event_release(&ev);
    }
    st = stats_of(s);
    CHECK(st.clients == 1 && st.accepted == 1 && st.msgs_in == 100 && st.bytes_in == 290);
    close(fd);
    WAIT_UNTIL(stats_of(s).disconnected == 1);
    CHECK_OK(tcphub_server_stop(s));
    st = stats_of(s);
    CHECK(st.clients == 0 && st.accepted == 1 && st.msgs_in == 100);
    tcphub_server_free(s);
    TEST_PASS("a small event queue loses nothing; stats count it and stay readable after stop");

    /* Default policy: the client that does not read is cut as a slow
     * consumer. */
    s = server_with_non_reader(TCPHUB_OVERFLOW_DISCONNECT, &fd);
    flood(s);
    WAIT_UNTIL(stats_of(s).slow_consumers == 1);
    WAIT_UNTIL(tcphub_server_client_count(s) == 0);
    CHECK(stats_of(s).dropped == 0);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("TCPHUB_OVERFLOW_DISCONNECT cuts a client that does not read");

    /* Drop policy: the same client keeps its connection; the messages that
     * did not fit are dropped and counted. */
    s = server_with_non_reader(TCPHUB_OVERFLOW_DROP_MESSAGE, &fd);
    flood(s);
    WAIT_UNTIL(delivered_or_dropped(s) == MSGS);
    st = stats_of(s);
    CHECK(st.dropped > 0 && st.slow_consumers == 0);
    CHECK(tcphub_server_client_count(s) == 1);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("TCPHUB_OVERFLOW_DROP_MESSAGE drops and counts, the client stays");

    /* A connection refused at max_clients reads the notice, then EOF. */
    s = tcphub_server_new(0, 1);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0));
    static const char full[] = "server full";
    CHECK_OK(tcphub_server_set_full_message(s, (const uint8_t *)full, strlen(full)));
    CHECK_OK(tcphub_server_start(s));
    fd = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    int refused = connect_to(tcphub_server_port(s));
    char line[64];
    read_line(refused, line, sizeof line);
    CHECK(strcmp(line, full) == 0);
    char c;
    CHECK(read_byte(refused, &c, now_ms() + WAIT_MS) == 0); /* then EOF */
    CHECK(stats_of(s).rejected == 1);
    close(refused);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("a refused connection gets the full message, then EOF");

    /* Over the 4096-byte limit: the start fails and says why. */
    s = new_local_server(TCPHUB_FRAMING_RAW);
    static uint8_t big[5000];
    memset(big, 'x', sizeof big);
    CHECK_OK(tcphub_server_set_full_message(s, big, sizeof big));
    CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "full_message") != NULL);
    CHECK_OK(tcphub_server_set_full_message(s, NULL, 0)); /* removed: starts */
    CHECK_OK(tcphub_server_start(s));
    tcphub_server_free(s);
    TEST_PASS("a full message over 4096 bytes fails the start; NULL removes it");
    return 0;
}
