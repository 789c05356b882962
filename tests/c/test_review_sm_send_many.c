/* Review (send_many): through the C API, a message at the framing's
 * max_len goes, one byte over is TCPHUB_ERR_FRAME_TOO_LARGE with nothing
 * sent and the count zeroed; long lists with repeats and strangers count
 * each connected client once, on either side of the 8-client threshold;
 * an empty list with a NULL message is no error. */
#include "test_util.h"

#define MSG(s) (const uint8_t *)(s), strlen(s)

int main(void) {
    tcphub_server *s = tcphub_server_new(0, 64);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 16));
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    enum { N = 10 };
    int fd[N];
    uint64_t id[N];
    for (int i = 0; i < N; i++) {
        fd[i] = connect_to(port);
        id[i] = expect_connected(s);
    }
    size_t queued = 99;
    CHECK_OK(tcphub_server_send_many(s, id, N, MSG("0123456789abcdef"), &queued));
    CHECK(queued == N);
    queued = 99;
    CHECK_RC(tcphub_server_send_many(s, id, N, MSG("0123456789abcdefg"), &queued),
             TCPHUB_ERR_FRAME_TOO_LARGE);
    CHECK(queued == 0);
    CHECK_RC(tcphub_server_send_many(s, id, 2, MSG("0123456789abcdefg"), &queued),
             TCPHUB_ERR_FRAME_TOO_LARGE);
    /* 3 distinct among 7 listed (the per-client path), then 9 distinct
     * among 20 (the shared buffer). */
    uint64_t few[7] = {id[1], id[1], 777777777, id[4], id[1], id[7], id[4]};
    CHECK_OK(tcphub_server_send_many(s, few, 7, MSG("few"), &queued));
    CHECK(queued == 3);
    uint64_t many[20];
    for (int i = 0; i < 20; i++)
        many[i] = i < 18 ? id[(i % 9) + 1] : 888888888u + (uint64_t)i;
    CHECK_OK(tcphub_server_send_many(s, many, 20, MSG("many"), &queued));
    CHECK(queued == 9);
    CHECK_OK(tcphub_server_send_many(s, NULL, 0, NULL, 0, &queued));
    CHECK(queued == 0);
    CHECK_OK(tcphub_server_send_all(s, MSG("end"), NULL));
    for (int i = 0; i < N; i++) {
        EXPECT_LINE(fd[i], "0123456789abcdef");
        if (i == 1 || i == 4 || i == 7)
            EXPECT_LINE(fd[i], "few");
        if (i >= 1)
            EXPECT_LINE(fd[i], "many");
        EXPECT_LINE(fd[i], "end");
    }
    TEST_PASS("max_len inclusive, one over refused; repeats and strangers counted once");
    CHECK_OK(tcphub_server_stop(s));
    for (int i = 0; i < N; i++)
        close(fd[i]);
    tcphub_server_free(s);
    return 0;
}
