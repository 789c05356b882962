/* tcphub_server_set_max_queue_bytes: one message larger than the bound is
 * still queued when the client's queue is empty (as the core's
 * TcpServer::max_queue_bytes does), so any message can be sent; the client
 * is neither disconnected nor does it lose the message. */
#include "test_util.h"

#define BIG (1 << 20) /* 1 MiB against a 1 KiB bound */

static uint8_t big[BIG];

int main(void) {
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)i;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_max_queue_bytes(s, 1024));
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    uint64_t id = expect_connected(s);
    tcphub_event ev;

    CHECK_OK(tcphub_server_send(s, id, big, sizeof big));
    /* All of it arrives: it was queued whole, not refused. */
    static uint8_t got[BIG];
    size_t have = 0;
    int64_t deadline = now_ms() + WAIT_MS;
    while (have < sizeof got) {
        int left = (int)(deadline - now_ms());
        CHECK(left > 0);
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) continue;
        CHECK(r > 0);
        ssize_t n = read(fd, got + have, sizeof got - have);
        if (n < 0 && errno == EINTR) continue;
        CHECK(n > 0);
        have += (size_t)n;
    }
    CHECK(memcmp(got, big, sizeof big) == 0);
    tcphub_stats st;
    CHECK_OK(tcphub_server_stats(s, &st));
    CHECK(st.slow_consumers == 0);
    CHECK(st.dropped == 0);
    CHECK(tcphub_server_client_count(s) == 1);
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_TIMEOUT);
    TEST_PASS("one message over max_queue_bytes is queued into an empty queue");
    close(fd);
    tcphub_server_free(s);
    return 0;
}
