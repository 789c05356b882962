/* The last callbacks of a run — on_disconnect, which runs while
 * tcphub_server_free, or a restart by tcphub_server_start, finishes the
 * stop from another thread —
 * see a server that is stopping: tcphub_server_stop_timeout and
 * tcphub_server_wait return TCPHUB_ERR_TIMEOUT there, as the header says for
 * calls inside a callback, not TCPHUB_OK ("stopped") or
 * TCPHUB_ERR_NOT_RUNNING ("never started"). */
#include <stdatomic.h>

#include "test_util.h"

static atomic_int stop_rc = 1, wait_rc = 1, seen;

static void on_disconnect(void *ud, uint64_t id, int reason) {
    (void)id;
    (void)reason;
    tcphub_server *s = ud;
    stop_rc = tcphub_server_stop_timeout(s, 0);
    wait_rc = tcphub_server_wait(s, 0);
    atomic_store(&seen, 1);
}

/* Closes the client's socket a little later: most likely while the main
 * thread waits in tcphub_server_start for the stuck stop (the test holds
 * whenever it happens). */
static void *close_later(void *arg) {
    nap_ms(100);
    close(*(int *)arg);
    return NULL;
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_disconnect(s, on_disconnect, s));
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    tcphub_server_free(s);
    CHECK(atomic_load(&seen));
    CHECK_RC(stop_rc, TCPHUB_ERR_TIMEOUT);
    CHECK_RC(wait_rc, TCPHUB_ERR_TIMEOUT);
    close(fd);
    TEST_PASS("callbacks run by tcphub_server_free see the server stopping");

    stop_rc = wait_rc = 1;
    atomic_store(&seen, 0);
    s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_max_queue_bytes(s, 64 << 20));
    CHECK_OK(tcphub_server_set_linger(s, 60000));
    CHECK_OK(tcphub_server_on_connect(s, flood_on_connect, s));
    CHECK_OK(tcphub_server_on_disconnect(s, on_disconnect, s));
    CHECK_OK(tcphub_server_start(s));
    fd = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(atomic_load(flooded()));
    CHECK_OK(tcphub_server_begin_stop(s));
    pthread_t closer;
    CHECK(pthread_create(&closer, NULL, close_later, &fd) == 0);
    CHECK_OK(tcphub_server_start(s)); /* waits for the previous run's loops */
    CHECK(pthread_join(closer, NULL) == 0);
    CHECK(atomic_load(&seen));
    CHECK_RC(stop_rc, TCPHUB_ERR_TIMEOUT);
    CHECK_RC(wait_rc, TCPHUB_ERR_TIMEOUT);
    CHECK(tcphub_server_is_running(s));
    tcphub_server_free(s);
    TEST_PASS("callbacks run while tcphub_server_start retires the last run see it stopping");
    return 0;
}
