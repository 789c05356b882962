/* Pull mode across a restart, against the header: events queued at a stop
 * can be taken after it; "a restart that succeeds discards the previous
 * run's events not yet taken"; tcphub_server_pending_events then counts
 * the new run's only; a thread that was waiting without limit in
 * tcphub_server_next_event through the stop returns NOT_RUNNING, and its
 * next call takes the new run's events. Under valgrind: the discarded
 * events are freed. */
#include "test_util.h"

struct waiter {
    tcphub_server *s;
    int rc;
    int kinds[8];
    int taken;
};

static void *wait_all(void *arg) {
    struct waiter *w = arg;
    for (;;) {
        tcphub_event ev;
        int rc = tcphub_server_next_event(w->s, &ev, -1);
        if (rc != TCPHUB_OK) {
            w->rc = rc;
            return NULL;
        }
        if (w->taken < 8) w->kinds[w->taken] = ev.kind;
        w->taken++;
        tcphub_event_release(&ev);
    }
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_event_capacity(s, 4));
    CHECK_OK(tcphub_server_set_linger(s, 0));
    CHECK_OK(tcphub_server_start(s));
    int a = connect_to(tcphub_server_port(s));
    for (int i = 0; i < 100; i++) write_str(a, "a line that stays queued\n");
    WAIT_UNTIL(tcphub_server_pending_events(s) == 4);
    tcphub_server_stop(s);
    CHECK(tcphub_server_pending_events(s) >= 5); /* at least the end besides */
    /* Taken after the stop: the first. */
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, 0));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    /* The restart discards the rest. */
    CHECK_OK(tcphub_server_start(s));
    CHECK(tcphub_server_pending_events(s) == 0);
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_TIMEOUT);
    close(a);
    TEST_PASS("a restart discards the previous run's events (freed), and pending_events says 0");

    /* A thread waiting without limit through a stop and a restart. */
    static struct waiter w;
    w.s = s;
    w.rc = 1;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wait_all, &w) == 0);
    int b = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    tcphub_server_stop(s);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_RC(w.rc, TCPHUB_ERR_NOT_RUNNING);
    CHECK(w.taken == 2 && w.kinds[0] == TCPHUB_EVENT_CONNECTED &&
          w.kinds[1] == TCPHUB_EVENT_DISCONNECTED);
    close(b);
    CHECK_OK(tcphub_server_start(s));
    memset(&w, 0, sizeof w);
    w.s = s;
    w.rc = 1;
    CHECK(pthread_create(&t, NULL, wait_all, &w) == 0);
    int c = connect_to(tcphub_server_port(s));
    write_str(c, "new run\n");
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    close(c);
    WAIT_UNTIL(tcphub_server_client_count(s) == 0);
    tcphub_server_stop(s);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_RC(w.rc, TCPHUB_ERR_NOT_RUNNING);
    CHECK(w.taken == 3 && w.kinds[0] == TCPHUB_EVENT_CONNECTED &&
          w.kinds[1] == TCPHUB_EVENT_MESSAGE && w.kinds[2] == TCPHUB_EVENT_DISCONNECTED);
    tcphub_server_free(s);
    TEST_PASS("a waiting thread ends with NOT_RUNNING at the stop; after a restart the new "
              "run's events come");
    return 0;
}
