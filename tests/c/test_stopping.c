/* tcphub_server_stop_timeout, tcphub_server_begin_stop, tcphub_server_wait. */
#include "test_util.h"

#include <stdatomic.h>

/* A "quit" line stops the server from its own callback. */
static void quit_on_command(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id;
    if (len == 4 && memcmp(data, "quit", 4) == 0) CHECK_OK(tcphub_server_begin_stop(ud));
}

int main(void) {
    CHECK_RC(tcphub_server_stop_timeout(NULL, 10), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_begin_stop(NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_wait(NULL, 0), TCPHUB_ERR_NULL);
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_stop_timeout(s, 0));
    CHECK_OK(tcphub_server_begin_stop(s));
    CHECK_RC(tcphub_server_wait(s, 0), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "never started") != NULL);
    TEST_PASS("NULL and never-started servers");

    /* A main thread waits while a callback decides when to stop. */
    CHECK_OK(tcphub_server_on_message(s, quit_on_command, s));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_wait(s, 0), TCPHUB_ERR_TIMEOUT);
    CHECK_RC(tcphub_server_wait(s, 30), TCPHUB_ERR_TIMEOUT);
    CHECK(tcphub_server_is_running(s));
    int fd = connect_to(tcphub_server_port(s));
    write_str(fd, "hello\nquit\n");
    CHECK_OK(tcphub_server_wait(s, -1));
    CHECK(!tcphub_server_is_running(s));
    char c;
    CHECK(read_byte(fd, &c, now_ms() + WAIT_MS) == 0); /* the stop closed us */
    close(fd);
    CHECK_OK(tcphub_server_wait(s, 0)); /* stopped stays stopped */
    tcphub_server_free(s);
    TEST_PASS("tcphub_server_wait returns once a callback stopped the server");

    /* A stop that cannot finish its flush (the client does not read) ends
     * by the deadline with TCPHUB_ERR_TIMEOUT and goes on. */
    s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_max_queue_bytes(s, 64 << 20));
    CHECK_OK(tcphub_server_set_linger(s, 60000));
    CHECK_OK(tcphub_server_on_connect(s, flood_on_connect, s));
    CHECK_OK(tcphub_server_start(s));
    fd = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(atomic_load(flooded()));
    CHECK_RC(tcphub_server_stop_timeout(s, 50), TCPHUB_ERR_TIMEOUT);
    CHECK(strstr(tcphub_last_error(), "still stopping") != NULL);
    CHECK(!tcphub_server_is_running(s));
    CHECK_RC(tcphub_server_wait(s, 30), TCPHUB_ERR_TIMEOUT);
    close(fd); /* the flush fails at once: the stop can finish */
    CHECK_OK(tcphub_server_stop_timeout(s, WAIT_MS));
    tcphub_server_free(s);
    TEST_PASS("tcphub_server_stop_timeout returns at its deadline while a flush is stuck");
    return 0;
}
