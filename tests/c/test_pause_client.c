/* tcphub_server_pause_client / _resume_client: a paused client's lines wait
 * in the kernel while another client is served; sends to it go on; the
 * resume delivers its lines in order; a callback's pause holds the rest of
 * the read in hand; unknown ids and a stopped server are errors. */
#include "test_util.h"

/* Waits until line `want` comes back on `fd`: the single loop has applied
 * what was posted before the send. */
static void settle(tcphub_server *s, uint64_t id, int fd) {
    CHECK_OK(tcphub_server_send(s, id, (const uint8_t *)"sync", 4));
    EXPECT_LINE(fd, "sync");
}

static void expect_message(tcphub_server *s, uint64_t id, const char *want) {
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.client_id == id);
    CHECK(ev.len == strlen(want) && memcmp(ev.data, want, ev.len) == 0);
    tcphub_event_release(&ev);
}

typedef struct {
    tcphub_server *server;
    atomic_int seen;
    atomic_ullong id;
} pausing;

/* on_message: "busy" pauses its sender. */
static void pause_on_busy(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    pausing *p = ud;
    if (len == 4 && memcmp(data, "busy", 4) == 0)
        CHECK_OK(tcphub_server_pause_client(p->server, id));
    atomic_store(&p->id, id);
    atomic_fetch_add(&p->seen, 1);
}

int main(void) {
    CHECK_RC(tcphub_server_pause_client(NULL, 1), TCPHUB_ERR_NULL);
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_RC(tcphub_server_pause_client(s, 1), TCPHUB_ERR_NOT_RUNNING);
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_pause_client(s, 999999), TCPHUB_ERR_NO_SUCH_CLIENT);
    CHECK_RC(tcphub_server_resume_client(s, 999999), TCPHUB_ERR_NO_SUCH_CLIENT);
    int a = connect_to(tcphub_server_port(s));
    uint64_t ia = expect_connected(s);
    int b = connect_to(tcphub_server_port(s));
    uint64_t ib = expect_connected(s);
    CHECK_OK(tcphub_server_pause_client(s, ia));
    settle(s, ib, b);
    write_str(a, "one\ntwo\n");
    write_str(b, "from b\n");
    expect_message(s, ib, "from b");
    tcphub_event ev;
    CHECK_RC(tcphub_server_next_event(s, &ev, 300), TCPHUB_ERR_TIMEOUT);
    settle(s, ia, a); /* sends to it go on */
    CHECK_OK(tcphub_server_resume_client(s, ia));
    expect_message(s, ia, "one");
    expect_message(s, ia, "two");
    CHECK_OK(tcphub_server_resume_client(s, ia)); /* not paused: harmless */
    close(a);
    close(b);
    tcphub_server_stop(s);
    CHECK_RC(tcphub_server_pause_client(s, ia), TCPHUB_ERR_NOT_RUNNING);
    tcphub_server_free(s);
    TEST_PASS("a paused client waits while another is served, then resumes in order");

    static pausing p;
    s = new_local_server(TCPHUB_FRAMING_LINES);
    p.server = s;
    CHECK_OK(tcphub_server_on_message(s, pause_on_busy, &p));
    CHECK_OK(tcphub_server_start(s));
    a = connect_to(tcphub_server_port(s));
    write_str(a, "busy\nnext\n");
    WAIT_UNTIL(atomic_load(&p.seen) == 1);
    nap_ms(300);
    CHECK(atomic_load(&p.seen) == 1); /* the rest of the read waits */
    CHECK_OK(tcphub_server_resume_client(s, atomic_load(&p.id)));
    WAIT_UNTIL(atomic_load(&p.seen) == 2);
    close(a);
    tcphub_server_free(s);
    TEST_PASS("a callback's pause holds the rest of the read in hand");
    return 0;
}
