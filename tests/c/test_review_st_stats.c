/* Review (statistics): every field of tcphub_stats carries the core's
 * number for it, none swapped: a scenario whose counters are known and
 * mostly distinct (accepted 4, clients 3, rejected 2, rejected_per_ip 1,
 * disconnected 1, frame_too_large 1, msgs_in 5, bytes_in 25 + 21,
 * msgs_out 6, bytes_out 18, the rest 0). */
#include "test_util.h"

/* Reads `n` bytes from `fd` (bounded). */
static void read_n(int fd, size_t n) {
    int64_t deadline = now_ms() + WAIT_MS;
    char c;
    for (size_t i = 0; i < n; i++) CHECK(read_byte(fd, &c, deadline) == 1);
}

int main(void) {
    tcphub_server *s = tcphub_server_new(0, 4);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 16));
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_set_max_clients_per_ip(s, 3));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    int a = connect_to(port), b = connect_to(port), c = connect_to(port);
    WAIT_UNTIL(tcphub_server_client_count(s) == 3);
    for (int i = 0; i < 3; i++) expect_connected(s);
    int d = connect_to(port); /* a fourth from 127.0.0.1 */
    WAIT_UNTIL(stats_of(s).rejected_per_ip == 1);
    int e = connect_from_with_rcvbuf(0x7f000002, port, 0);
    WAIT_UNTIL(tcphub_server_client_count(s) == 4);
    expect_connected(s);
    int f = connect_from_with_rcvbuf(0x7f000003, port, 0);
    int g = connect_from_with_rcvbuf(0x7f000004, port, 0);
    WAIT_UNTIL(stats_of(s).rejected == 2);
    for (int i = 0; i < 5; i++) write_str(a, "abcd\n"); /* 5 messages, 25 bytes */
    write_str(c, "01234567890123456789\n"); /* 21 bytes, over 16: cut */
    WAIT_UNTIL(stats_of(s).disconnected == 1);
    size_t n = 0;
    CHECK_OK(tcphub_server_send_all(s, (const uint8_t *)"xy", 2, &n));
    CHECK(n == 3);
    for (int i = 0; i < 3; i++)
        CHECK_OK(tcphub_server_send_to(s, "127.0.0.1", local_port(a), (const uint8_t *)"xy", 2));
    read_n(a, 12);
    read_n(b, 3);
    read_n(e, 3);
    /* (Bytes in are counted as read, their messages as decoded, just after.) */
    WAIT_UNTIL(stats_of(s).bytes_out == 18 && stats_of(s).bytes_in == 46 && stats_of(s).msgs_in == 5);
    tcphub_stats st = stats_of(s);
    CHECK(st.accepted == 4);
    CHECK(st.clients == 3);
    CHECK(st.rejected == 2);
    CHECK(st.rejected_per_ip == 1);
    CHECK(st.disconnected == 1);
    CHECK(st.frame_too_large == 1);
    CHECK(st.msgs_in == 5);
    CHECK(st.bytes_in == 46);
    CHECK(st.msgs_out == 6);
    CHECK(st.bytes_out == 18);
    CHECK(st.dropped == 0 && st.undelivered == 0 && st.unwritten == 0);
    CHECK(st.slow_consumers == 0 && st.idle_timeouts == 0 && st.frame_timeouts == 0);
    CHECK(st.callback_panics == 0);
    TEST_PASS("stats: each field carries its own counter");
    CHECK_OK(tcphub_server_stop(s));
    st = stats_of(s);
    CHECK(st.clients == 0 && st.accepted == 4 && st.disconnected == 4);
    TEST_PASS("stats: the final counts after the stop");
    tcphub_server_free(s);
    int fds[] = {a, b, c, d, e, f, g};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) close(fds[i]);
    return 0;
}
