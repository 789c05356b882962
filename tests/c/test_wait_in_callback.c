/* tcphub_server_wait from inside one of the server's own callbacks: the
 * loops (this thread among them) cannot have ended while the callback runs,
 * so it never reports TCPHUB_OK there — with a limit or without one. */
#include <stdatomic.h>

#include "test_util.h"

static atomic_int limited_rc = 1, unlimited_rc = 1;

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id;
    (void)data;
    (void)len;
    tcphub_server *s = ud;
    CHECK_OK(tcphub_server_begin_stop(s));
    limited_rc = tcphub_server_wait(s, 50);
    unlimited_rc = tcphub_server_wait(s, -1);
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(s, on_message, s));
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    write_str(fd, "stop\n");
    CHECK_OK(tcphub_server_wait(s, WAIT_MS));
    CHECK_RC(limited_rc, TCPHUB_ERR_TIMEOUT);
    CHECK_RC(unlimited_rc, TCPHUB_ERR_TIMEOUT);
    TEST_PASS("wait inside a callback after begin_stop: TCPHUB_ERR_TIMEOUT, never OK");
    close(fd);
    tcphub_server_free(s);
    return 0;
}
