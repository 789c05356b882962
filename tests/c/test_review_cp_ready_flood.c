/* The header's readiness loop (tcphub_server_ready_fd / tcphub_client_ready_fd:
 * take with timeout 0 until TIMEOUT, arm, poll) under a flood through a
 * small event queue: no wakeup is lost (a poll that runs out of time finds
 * nothing to take), every message comes once and in order, and the loop
 * ends on the stop (server) or the close (client) as documented. */
#include "test_util.h"

#define CLIENTS 6
#define PER_CLIENT 20000
#ifndef CAPACITY
#define CAPACITY 8
#endif

struct flood {
    int fd;
    uint32_t count;
    int end; /* shutdown(SHUT_WR) at the end */
};

static void *flood_thread(void *arg) {
    struct flood *f = arg;
    uint8_t buf[16 * 1024];
    size_t used = 0;
    for (uint32_t seq = 0; seq <= f->count; seq++) {
        if (seq == f->count || used + 8 + 41 > sizeof buf) {
            size_t off = 0;
            while (off < used) {
                ssize_t n = send(f->fd, buf + off, used - off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) return NULL;
                off += (size_t)n;
            }
            used = 0;
            if (seq == f->count) break;
        }
        uint32_t filler = seq % 41;
        put_be32(buf + used, 4 + filler);
        put_be32(buf + used + 4, seq);
        memset(buf + used + 8, 'r', filler);
        used += 8 + filler;
    }
    if (f->end) shutdown(f->fd, SHUT_WR);
    return NULL;
}

/* Waits on `r` as the header's example does; a poll that runs out of time
 * while `pending()` says something waits is a lost wakeup. */
static void wait_ready(tcphub_ready_fd *r, size_t (*pending)(void *), void *arg) {
    int armed = tcphub_ready_fd_arm(r);
    CHECK(armed == 0 || armed == 1);
    if (armed == 0) return;
    struct pollfd p = {tcphub_ready_fd_fileno(r), POLLIN, 0};
    int n = poll(&p, 1, WAIT_MS);
    CHECK(n >= 0);
    if (n == 0) {
        fprintf(stderr, "poll ran out of time with %zu events waiting\n", pending(arg));
        exit(1);
    }
}

static size_t server_pending(void *s) { return tcphub_server_pending_events(s); }

static void server_loop(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_set_event_capacity(s, CAPACITY));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    tcphub_ready_fd *r = NULL;
    CHECK_OK(tcphub_server_ready_fd(s, &r));

    struct flood floods[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        floods[i] = (struct flood){connect_to(port), PER_CLIENT, 1};
        CHECK(pthread_create(&threads[i], NULL, flood_thread, &floods[i]) == 0);
    }
    struct {
        uint64_t id;
        uint32_t next;
        int ended;
    } seen[CLIENTS];
    int known = 0, ended = 0, stopped = 0;
    uint64_t taken = 0;
    int64_t deadline = now_ms() + 600000; /* generous: valgrind on a loaded machine took over 120 s */
    for (;;) {
        CHECK(now_ms() < deadline);
        tcphub_event ev;
        int rc;
        while ((rc = tcphub_server_next_event(s, &ev, 0)) == TCPHUB_OK) {
            int i = 0;
            while (i < known && seen[i].id != ev.client_id) i++;
            if (i == known) {
                CHECK(known < CLIENTS && ev.kind == TCPHUB_EVENT_CONNECTED);
                seen[known].id = ev.client_id;
                seen[known].next = 0;
                seen[known++].ended = 0;
            } else if (ev.kind == TCPHUB_EVENT_MESSAGE) {
                CHECK(!seen[i].ended && ev.len >= 4);
                CHECK(get_be32(ev.data) == seen[i].next);
                seen[i].next++;
            } else {
                CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED && !seen[i].ended);
                CHECK(ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
                CHECK(seen[i].next == PER_CLIENT);
                seen[i].ended = 1;
                ended++;
            }
            tcphub_event_release(&ev);
            if (++taken % 1000 == 0) nap_ms(2); /* slowness, not synchronisation */
        }
        if (rc != TCPHUB_ERR_TIMEOUT) break; /* stopped, every event taken */
        if (ended == CLIENTS && !stopped) {
            /* The stop makes the descriptor readable and the loop end. */
            CHECK_OK(tcphub_server_begin_stop(s));
            stopped = 1;
        }
        wait_ready(r, server_pending, s);
    }
    CHECK(stopped);
    CHECK(tcphub_ready_fd_arm(r) == 0); /* for good, once stopped */
    tcphub_ready_fd_free(r);
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(floods[i].fd);
    }
    tcphub_server_free(s);
}

static size_t client_pending(void *arg) {
    (void)arg;
    return 0; /* no count for a client: a timeout is reported as is */
}

static void client_loop(void) {
    uint16_t port;
    int l = listen_local(&port);
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.framing = TCPHUB_FRAMING_LENGTH_PREFIXED;
    o.event_capacity = CAPACITY;
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", port, &o, &c));
    struct flood f = {accept(l, NULL, NULL), 5 * PER_CLIENT, 1};
    CHECK(f.fd >= 0);
    close(l);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, flood_thread, &f) == 0);
    tcphub_ready_fd *r = NULL;
    CHECK_OK(tcphub_client_ready_fd(c, &r));
    uint32_t next = 0;
    int ended = 0, closed = 0;
    int64_t deadline = now_ms() + 600000; /* generous: valgrind on a loaded machine took over 120 s */
    for (;;) {
        CHECK(now_ms() < deadline);
        tcphub_client_event ev;
        int rc;
        while ((rc = tcphub_client_next_event(c, &ev, 0)) == TCPHUB_OK) {
            if (ev.kind == TCPHUB_CLIENT_EVENT_MESSAGE) {
                CHECK(!ended && ev.message.len >= 4);
                CHECK(get_be32(ev.message.data) == next);
                next++;
            } else if (ev.kind == TCPHUB_CLIENT_EVENT_DISCONNECTED) {
                CHECK(!ended && ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
                ended = 1;
            } else {
                CHECK(ev.kind == TCPHUB_CLIENT_EVENT_CLOSED && ended);
                closed = 1;
            }
            tcphub_client_event_release(&ev);
            if (next % 1000 == 999) nap_ms(2); /* slowness */
        }
        if (rc != TCPHUB_ERR_TIMEOUT) break;
        wait_ready(r, client_pending, NULL);
    }
    CHECK(closed && next == 5 * PER_CLIENT);
    CHECK(tcphub_ready_fd_arm(r) == 0);
    tcphub_ready_fd_free(r);
    CHECK(pthread_join(t, NULL) == 0);
    close(f.fd);
    tcphub_client_free(c);
}

/* Two consumers, each with a descriptor of its own, the header's loop in
 * each, 4 event loops and a queue of CAPACITY: together they take every
 * event once (each client's messages once, no gap), and both end at the
 * stop. */
struct shared {
    tcphub_server *s;
    pthread_mutex_t lock;
    uint64_t ids[CLIENTS];
    uint8_t *got[CLIENTS];
    int known, ended, stopped;
};

static void *ready_consumer(void *arg) {
    struct shared *sh = arg;
    tcphub_ready_fd *r = NULL;
    CHECK_OK(tcphub_server_ready_fd(sh->s, &r));
    int64_t deadline = now_ms() + 600000; /* generous: valgrind on a loaded machine took over 120 s */
    for (;;) {
        CHECK(now_ms() < deadline);
        tcphub_event ev;
        int rc;
        while ((rc = tcphub_server_next_event(sh->s, &ev, 0)) == TCPHUB_OK) {
            CHECK(pthread_mutex_lock(&sh->lock) == 0);
            int i = 0;
            while (i < sh->known && sh->ids[i] != ev.client_id) i++;
            if (i == sh->known) {
                CHECK(sh->known < CLIENTS);
                sh->ids[i] = ev.client_id;
                sh->got[i] = calloc(PER_CLIENT, 1);
                CHECK(sh->got[i] != NULL);
                sh->known++;
            }
            if (ev.kind == TCPHUB_EVENT_MESSAGE) {
                uint32_t seq = get_be32(ev.data);
                CHECK(seq < PER_CLIENT && !sh->got[i][seq]);
                sh->got[i][seq] = 1;
            } else if (ev.kind == TCPHUB_EVENT_DISCONNECTED) {
                CHECK(ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
                if (++sh->ended == CLIENTS) {
                    CHECK_OK(tcphub_server_begin_stop(sh->s));
                    sh->stopped = 1;
                }
            }
            CHECK(pthread_mutex_unlock(&sh->lock) == 0);
            tcphub_event_release(&ev);
        }
        if (rc != TCPHUB_ERR_TIMEOUT) break;
        wait_ready(r, server_pending, sh->s);
    }
    tcphub_ready_fd_free(r);
    return NULL;
}

static void two_consumers(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_set_threads(s, 4));
    CHECK_OK(tcphub_server_set_event_capacity(s, CAPACITY));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    static struct shared sh;
    memset(&sh, 0, sizeof sh);
    sh.s = s;
    CHECK(pthread_mutex_init(&sh.lock, NULL) == 0);
    pthread_t consumers[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&consumers[i], NULL, ready_consumer, &sh) == 0);
    struct flood floods[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        floods[i] = (struct flood){connect_to(port), PER_CLIENT, 1};
        CHECK(pthread_create(&threads[i], NULL, flood_thread, &floods[i]) == 0);
    }
    for (int i = 0; i < 2; i++) CHECK(pthread_join(consumers[i], NULL) == 0);
    CHECK(sh.stopped && sh.known == CLIENTS);
    for (int i = 0; i < CLIENTS; i++) {
        for (uint32_t k = 0; k < PER_CLIENT; k++) CHECK(sh.got[i][k]);
        free(sh.got[i]);
    }
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(floods[i].fd);
    }
    tcphub_server_free(s);
    pthread_mutex_destroy(&sh.lock);
}

int main(void) {
    server_loop();
    TEST_PASS("server ready_fd loop under a flood: no lost wakeup, all in order, ends at the stop");
    two_consumers();
    TEST_PASS("two consumers, a descriptor each: every event once, both end at the stop");
    client_loop();
    TEST_PASS("client ready_fd loop under a flood: no lost wakeup, all in order, ends at CLOSED");
    return 0;
}
