/* tcphub_server_stop from inside a callback: it starts the stop and
 * returns; queued messages are still flushed; every client is reported
 * once; free from the main thread then waits for the loops. The stopped
 * server can be started again (from outside its callbacks: inside one,
 * start is refused). Two servers stopping each other from their callbacks
 * at the same time do not deadlock. From another server's callback a
 * restart is refused while the previous run still ends. */
#include <stdatomic.h>

#include "test_util.h"

struct ctx {
    tcphub_server *server;
    pthread_mutex_t lock;
    int stop_rc;
    int restart_rc;
    int stopped_seen;
    int disconnects;
    int stopped_reasons;
};

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id;
    struct ctx *c = ud;
    if (len == 4 && memcmp(data, "stop", 4) == 0) {
        CHECK_OK(tcphub_server_send_all(c->server, (const uint8_t *)"bye", 3, NULL));
        int rc = tcphub_server_stop(c->server);
        /* Its loops, this thread among them, are still ending. */
        int restart = tcphub_server_start(c->server);
        pthread_mutex_lock(&c->lock);
        c->stop_rc = rc;
        c->restart_rc = restart;
        c->stopped_seen = !tcphub_server_is_running(c->server);
        pthread_mutex_unlock(&c->lock);
        /* Calls after the stop, still inside the callback, fail cleanly. */
        CHECK_RC(tcphub_server_send_all(c->server, (const uint8_t *)"x", 1, NULL),
                 TCPHUB_ERR_NOT_RUNNING);
    }
}

static void on_disconnect(void *ud, uint64_t id, int reason) {
    (void)id;
    struct ctx *c = ud;
    pthread_mutex_lock(&c->lock);
    c->disconnects++;
    if (reason == TCPHUB_REASON_SERVER_STOPPED) c->stopped_reasons++;
    pthread_mutex_unlock(&c->lock);
}

static int disconnects(struct ctx *c) {
    pthread_mutex_lock(&c->lock);
    int n = c->disconnects;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* Two servers; each one's callback waits until both are inside, then stops
 * the other. */
static atomic_int cross_entered, cross_returned;

static void cross_stop(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id, (void)data, (void)len;
    atomic_fetch_add(&cross_entered, 1);
    int64_t deadline = now_ms() + WAIT_MS;
    while (atomic_load(&cross_entered) < 2 && now_ms() < deadline) nap_ms(1);
    CHECK_OK(tcphub_server_stop(ud));
    atomic_fetch_add(&cross_returned, 1);
}

static void servers_stopping_each_other(void) {
    tcphub_server *a = new_local_server(TCPHUB_FRAMING_LINES);
    tcphub_server *b = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(a, cross_stop, b));
    CHECK_OK(tcphub_server_on_message(b, cross_stop, a));
    CHECK_OK(tcphub_server_start(a));
    CHECK_OK(tcphub_server_start(b));
    int fa = connect_to(tcphub_server_port(a));
    int fb = connect_to(tcphub_server_port(b));
    write_str(fa, "stop b\n");
    write_str(fb, "stop a\n");
    WAIT_UNTIL(atomic_load(&cross_returned) == 2);
    WAIT_UNTIL(!tcphub_server_is_running(a) && !tcphub_server_is_running(b));
    expect_eof(fa);
    expect_eof(fb);
    close(fa);
    close(fb);
    tcphub_server_free(a);
    tcphub_server_free(b);
    TEST_PASS("two servers stopping each other from callbacks: no deadlock");
}

/* Server `other` restarted from a callback of another server: refused
 * while its previous run still ends (its last on_disconnect is slow), as
 * that callback cannot wait for it; once it has ended, started. Before:
 * started at once, the new run's callbacks overlapping the old run's. */
static atomic_int slow_disconnects, restart_rc;

static void slow_disconnect(void *ud, uint64_t id, int reason) {
    (void)ud, (void)id, (void)reason;
    nap_ms(300);
    atomic_fetch_add(&slow_disconnects, 1);
}

static void restart_other(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id;
    tcphub_server *other = ud;
    if (len >= 4 && memcmp(data, "stop", 4) == 0) CHECK_OK(tcphub_server_stop(other));
    atomic_store(&restart_rc, tcphub_server_start(other));
}

static void restart_from_another_servers_callback(void) {
    tcphub_server *a = new_local_server(TCPHUB_FRAMING_LINES);
    tcphub_server *b = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_disconnect(b, slow_disconnect, NULL));
    CHECK_OK(tcphub_server_on_message(a, restart_other, b));
    CHECK_OK(tcphub_server_start(b));
    CHECK_OK(tcphub_server_start(a));
    int fb = connect_to(tcphub_server_port(b));
    WAIT_UNTIL(tcphub_server_client_count(b) == 1);
    int fa = connect_to(tcphub_server_port(a));
    atomic_store(&restart_rc, 1);
    write_str(fa, "stop b, start b\n");
    WAIT_UNTIL(atomic_load(&restart_rc) != 1);
    CHECK(atomic_load(&restart_rc) == TCPHUB_ERR_ALREADY_RUNNING);
    CHECK(!tcphub_server_is_running(b));
    CHECK_OK(tcphub_server_stop_timeout(b, WAIT_MS)); /* it has ended */
    CHECK(atomic_load(&slow_disconnects) == 1);
    atomic_store(&restart_rc, 1);
    write_str(fa, "start b\n");
    WAIT_UNTIL(atomic_load(&restart_rc) != 1);
    CHECK(atomic_load(&restart_rc) == TCPHUB_OK);
    CHECK(tcphub_server_is_running(b));
    expect_eof(fb);
    close(fb);
    close(fa);
    tcphub_server_free(a);
    tcphub_server_free(b);
    TEST_PASS("a restart from another server's callback: refused while the old run ends, then started");
}

int main(void) {
    static struct ctx c;
    pthread_mutex_init(&c.lock, NULL);
    c.stop_rc = 1;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    c.server = s;
    CHECK_OK(tcphub_server_on_message(s, on_message, &c));
    CHECK_OK(tcphub_server_on_disconnect(s, on_disconnect, &c));
    CHECK_OK(tcphub_server_start(s));

    int a = connect_to(tcphub_server_port(s));
    int b = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(tcphub_server_client_count(s) == 2);
    write_str(a, "stop\n");
    WAIT_UNTIL(!tcphub_server_is_running(s));
    EXPECT_LINE(a, "bye");
    EXPECT_LINE(b, "bye");
    expect_eof(a);
    expect_eof(b);
    WAIT_UNTIL(disconnects(&c) == 2);
    pthread_mutex_lock(&c.lock);
    CHECK(c.stop_rc == TCPHUB_OK);
    CHECK(c.restart_rc == TCPHUB_ERR_ALREADY_RUNNING);
    CHECK(c.stopped_seen);
    CHECK(c.stopped_reasons == 2);
    pthread_mutex_unlock(&c.lock);
    close(a);
    close(b);
    TEST_PASS("stop inside on_message: flushed, clients closed, reported once");

    /* Start again after an in-callback stop, then stop from outside. */
    CHECK_OK(tcphub_server_start(s));
    a = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    CHECK_OK(tcphub_server_stop(s));
    expect_eof(a);
    close(a);
    CHECK(disconnects(&c) == 3);
    TEST_PASS("restart after an in-callback stop");

    tcphub_server_free(s);
    pthread_mutex_destroy(&c.lock);
    TEST_PASS("free after an in-callback stop");

    servers_stopping_each_other();
    restart_from_another_servers_callback();
    return 0;
}
