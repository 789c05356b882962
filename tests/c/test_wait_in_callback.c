/* tcphub_server_wait from inside a callback never waits for loops: inside
 * one of the server's own callbacks the loops (this thread among them)
 * cannot have ended while the callback runs (TCPHUB_ERR_TIMEOUT); inside
 * another server's callback it answers at once whether the server's loops
 * have ended (TCPHUB_OK for one stopped and joined long ago) — with a
 * limit or without one. */
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

/* Waits for another server (the userdata), stopped and joined long ago. */
static atomic_int other_zero_rc = 1, other_limited_rc = 1, other_unlimited_rc = 1;
static atomic_int other_done;

static void wait_for_other(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id;
    (void)data;
    (void)len;
    tcphub_server *other = ud;
    other_zero_rc = tcphub_server_wait(other, 0);
    other_limited_rc = tcphub_server_wait(other, 50);
    other_unlimited_rc = tcphub_server_wait(other, -1);
    atomic_store(&other_done, 1);
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

    /* `s` is stopped and its loops joined: from this thread it is OK at once. */
    CHECK_OK(tcphub_server_wait(s, 0));
    tcphub_server *b = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(b, wait_for_other, s));
    CHECK_OK(tcphub_server_start(b));
    fd = connect_to(tcphub_server_port(b));
    write_str(fd, "wait\n");
    WAIT_UNTIL(atomic_load(&other_done));
    CHECK_OK(other_zero_rc);
    CHECK_OK(other_limited_rc);
    CHECK_OK(other_unlimited_rc);
    TEST_PASS("wait inside another server's callback for a server that has ended: TCPHUB_OK");
    close(fd);
    tcphub_server_free(b);
    tcphub_server_free(s);
    return 0;
}
