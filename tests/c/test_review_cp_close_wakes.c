/* A close from one thread ends the other threads' waits on that client,
 * as the header says, long before their own time runs out: a
 * tcphub_client_send_timeout waiting for room ("TCPHUB_ERR_NOT_RUNNING
 * ... also during the wait"), a tcphub_client_flush ("NOT_RUNNING when
 * they never will be: the client was closed"), a tcphub_client_recv and a
 * tcphub_client_next_event waiting without limit. The server is a plain
 * socket that does not read, so the queue stays full. */
#include "test_util.h"

#define LONG_MS 600000 /* far longer than the test may take */

struct waits {
    tcphub_client *c;
    int send_rc, flush_rc, recv_rc, event_rc;
    atomic_int started;
};

static uint8_t msg[64 * 1024];

static void *sender(void *arg) {
    struct waits *w = arg;
    atomic_fetch_add(&w->started, 1);
    /* Room the system's buffers made meanwhile is taken; then it waits. */
    while ((w->send_rc = tcphub_client_send_timeout(w->c, msg, sizeof msg, LONG_MS)) == TCPHUB_OK)
        ;
    return NULL;
}

static void *flusher(void *arg) {
    struct waits *w = arg;
    atomic_fetch_add(&w->started, 1);
    w->flush_rc = tcphub_client_flush(w->c, LONG_MS);
    return NULL;
}

static void *receiver(void *arg) {
    struct waits *w = arg;
    atomic_fetch_add(&w->started, 1);
    tcphub_message m;
    w->recv_rc = tcphub_client_recv(w->c, &m, -1);
    return NULL;
}

static void *event_taker(void *arg) {
    struct waits *w = arg;
    atomic_fetch_add(&w->started, 1);
    tcphub_client_event ev;
    int rc;
    /* (No sequence to check here: the recv thread takes and skips what
     * it finds of the ends.) */
    while ((rc = tcphub_client_next_event(w->c, &ev, -1)) == TCPHUB_OK) {
        CHECK(ev.kind != TCPHUB_CLIENT_EVENT_MESSAGE);
        tcphub_client_event_release(&ev);
    }
    w->event_rc = rc;
    return NULL;
}

/* With only next_event waiting: the close's end comes as DISCONNECTED,
 * then CLOSED last, then NOT_RUNNING. */
static void *sequence_taker(void *arg) {
    struct waits *w = arg;
    atomic_fetch_add(&w->started, 1);
    tcphub_client_event ev;
    int rc, ended = 0, closed = 0;
    while ((rc = tcphub_client_next_event(w->c, &ev, -1)) == TCPHUB_OK) {
        if (ev.kind == TCPHUB_CLIENT_EVENT_DISCONNECTED) {
            CHECK(!ended && !closed);
            ended = 1;
        } else {
            CHECK(ev.kind == TCPHUB_CLIENT_EVENT_CLOSED && ended && !closed);
            closed = 1;
        }
        tcphub_client_event_release(&ev);
    }
    CHECK(closed);
    w->event_rc = rc;
    return NULL;
}

static void close_sequence(void) {
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.linger_ms = 300;
    static struct waits w;
    int fd = connect_stalled(&o, &w.c);
    CHECK_OK(tcphub_client_send(w.c, msg, sizeof msg));
    w.event_rc = 1;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, sequence_taker, &w) == 0);
    WAIT_UNTIL(atomic_load(&w.started) == 1);
    CHECK_OK(tcphub_client_close(w.c));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_RC(w.event_rc, TCPHUB_ERR_NOT_RUNNING);
    tcphub_client_free(w.c);
    close(fd);
}

int main(void) {
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.max_queue_bytes = 256 * 1024;
    o.linger_ms = 300; /* the close gives up on the flush after this */
    static struct waits w;
    int fd = connect_stalled(&o, &w.c);
    /* Fill the queue and the system's buffers: the server reads nothing.
     * Filled once the queue stays full for a while (the system's send
     * buffer grows as it takes what is written). */
    int64_t deadline = now_ms() + WAIT_MS;
    size_t last = (size_t)-1;
    int steady = 0;
    while (steady < 50) {
        while (tcphub_client_send(w.c, msg, sizeof msg) == TCPHUB_OK) CHECK(now_ms() < deadline);
        size_t queued = tcphub_client_queued_bytes(w.c);
        steady = queued == last ? steady + 1 : 0;
        last = queued;
        nap_ms(5);
    }
    w.send_rc = w.flush_rc = w.recv_rc = w.event_rc = 1;
    pthread_t t[4];
    CHECK(pthread_create(&t[0], NULL, sender, &w) == 0);
    CHECK(pthread_create(&t[1], NULL, flusher, &w) == 0);
    CHECK(pthread_create(&t[2], NULL, receiver, &w) == 0);
    CHECK(pthread_create(&t[3], NULL, event_taker, &w) == 0);
    WAIT_UNTIL(atomic_load(&w.started) == 4);
    int64_t t0 = now_ms();
    CHECK_OK(tcphub_client_close(w.c));
    for (int i = 0; i < 4; i++) CHECK(pthread_join(t[i], NULL) == 0);
    int64_t took = now_ms() - t0;
    printf("# the waits ended %lld ms after the close began\n", (long long)took);
    CHECK(took < WAIT_MS); /* a bound against hanging, not a speed claim */
    CHECK_RC(w.send_rc, TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(w.flush_rc, TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(w.recv_rc, TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(w.event_rc, TCPHUB_ERR_NOT_RUNNING);
    CHECK(tcphub_client_unsent(w.c) > 0); /* the close dropped what was queued */
    tcphub_client_free(w.c);
    close(fd);
    TEST_PASS("a close ends the other threads' send_timeout, flush, recv and next_event waits "
              "with NOT_RUNNING");
    close_sequence();
    TEST_PASS("a close seen by a thread in next_event: DISCONNECTED, then CLOSED, then NOT_RUNNING");
    return 0;
}
