/* Pull mode: a stop (or begin_stop) from one thread while another waits in
 * tcphub_server_next_event without limit, with and without a flood that
 * keeps the small event queue full, with input or clients paused: the stop
 * returns, the waiting thread gets what was queued — each client's
 * messages in order without a gap, and one DISCONNECTED for every
 * CONNECTED, after its messages — then TCPHUB_ERR_NOT_RUNNING. Pausing
 * and resuming input and single clients over and over while the consumer
 * takes a flood loses, duplicates and reorders nothing. */
#include "test_util.h"

#define CLIENTS 8
#ifndef CAPACITY
#define CAPACITY 16
#endif
#define MAX_IDS 64

struct sender {
    int fd;
    uint32_t count; /* frames to send, then a clean end */
    uint32_t sent;
};

/* Numbered 4-byte frames (with seq % 61 bytes of filler) until `count`
 * or until the server is gone; then a clean end. */
static void *sender_thread(void *arg) {
    struct sender *s = arg;
    uint8_t buf[16 * 1024];
    size_t used = 0;
    for (s->sent = 0; s->sent < s->count; s->sent++) {
        uint32_t filler = s->sent % 61;
        if (used + 8 + filler > sizeof buf) {
            size_t off = 0;
            while (off < used) {
                ssize_t n = send(s->fd, buf + off, used - off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) return NULL;
                off += (size_t)n;
            }
            used = 0;
        }
        put_be32(buf + used, 4 + filler);
        put_be32(buf + used + 4, s->sent);
        memset(buf + used + 8, 'f', filler);
        used += 8 + filler;
    }
    size_t off = 0;
    while (off < used) {
        ssize_t n = send(s->fd, buf + off, used - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return NULL;
        off += (size_t)n;
    }
    shutdown(s->fd, SHUT_WR);
    return NULL;
}

struct seen {
    uint64_t id;
    int connected, disconnected, reason;
    uint32_t next;
};

struct consumer {
    tcphub_server *s;
    int timeout_ms;
    struct seen all[MAX_IDS];
    int known;
    atomic_int taken;
    atomic_int messages;
    int rc; /* what ended the consumer */
    /* Toggle pauses as it goes: input every `toggle_input` events, one
     * client every `toggle_client` events (0: never). */
    int toggle_input, toggle_client;
    /* With a timeout: the number of clients whose ends finish the run
     * (0: a timeout ends it), and the deadline for that. */
    int until_ends;
    int64_t deadline;
    /* Kick a client once this many of its messages were taken (0: never). */
    uint32_t kick_at;
};

static struct seen *find(struct consumer *c, uint64_t id) {
    for (int i = 0; i < c->known; i++)
        if (c->all[i].id == id) return &c->all[i];
    CHECK(c->known < MAX_IDS);
    c->all[c->known] = (struct seen){id, 0, 0, -1, 0};
    return &c->all[c->known++];
}

static void *consume(void *arg) {
    struct consumer *c = arg;
    int paused_input = 0;
    uint64_t paused_client = 0;
    for (;;) {
        tcphub_event ev;
        int rc = tcphub_server_next_event(c->s, &ev, c->timeout_ms);
        if (rc == TCPHUB_ERR_TIMEOUT && c->until_ends) {
            /* Nothing came for a while: what a pause left waits; resume
             * it. Once every client ended, the consumer is done. */
            int ended = 0;
            for (int i = 0; i < c->known; i++) ended += c->all[i].disconnected;
            if (ended == c->until_ends && !paused_input && !paused_client) {
                c->rc = TCPHUB_OK;
                return NULL;
            }
            CHECK(now_ms() < c->deadline);
            if (paused_input) CHECK_OK(tcphub_server_resume_input(c->s));
            if (paused_client) (void)tcphub_server_resume_client(c->s, paused_client);
            paused_input = 0;
            paused_client = 0;
            continue;
        }
        if (rc != TCPHUB_OK) {
            CHECK(ev.kind == TCPHUB_EVENT_NONE && ev.data == NULL);
            c->rc = rc;
            return NULL;
        }
        int taken = atomic_fetch_add(&c->taken, 1) + 1;
        struct seen *one = find(c, ev.client_id);
        switch (ev.kind) {
        case TCPHUB_EVENT_CONNECTED:
            CHECK(!one->connected && !one->disconnected);
            one->connected = 1;
            break;
        case TCPHUB_EVENT_MESSAGE: {
            CHECK(one->connected && !one->disconnected);
            CHECK(ev.len >= 4);
            uint32_t seq = get_be32(ev.data);
            if (seq != one->next) {
                fprintf(stderr, "client %llu: message %u where %u was due\n",
                        (unsigned long long)ev.client_id, seq, one->next);
                exit(1);
            }
            CHECK(ev.len == 4 + seq % 61);
            one->next++;
            if (c->kick_at && one->next == c->kick_at && (one - c->all) % 2 == 0) {
                int r = tcphub_server_disconnect(c->s, ev.client_id);
                CHECK(r == TCPHUB_OK || r == TCPHUB_ERR_NO_SUCH_CLIENT);
            }
            atomic_fetch_add(&c->messages, 1);
            break;
        }
        case TCPHUB_EVENT_DISCONNECTED:
            CHECK(one->connected && !one->disconnected);
            one->disconnected = 1;
            one->reason = ev.reason;
            break;
        default:
            CHECK(0);
        }
        if (c->toggle_input && taken % c->toggle_input == 0) {
            int r = paused_input ? tcphub_server_resume_input(c->s) : tcphub_server_pause_input(c->s);
            CHECK(r == TCPHUB_OK);
            paused_input = !paused_input;
        }
        if (c->toggle_client && taken % c->toggle_client == 0) {
            if (paused_client) {
                int r = tcphub_server_resume_client(c->s, paused_client);
                CHECK(r == TCPHUB_OK || r == TCPHUB_ERR_NO_SUCH_CLIENT || r == TCPHUB_ERR_NOT_RUNNING);
                paused_client = 0;
            } else if (ev.kind == TCPHUB_EVENT_MESSAGE) {
                int r = tcphub_server_pause_client(c->s, ev.client_id);
                CHECK(r == TCPHUB_OK || r == TCPHUB_ERR_NO_SUCH_CLIENT || r == TCPHUB_ERR_NOT_RUNNING);
                if (r == TCPHUB_OK) paused_client = ev.client_id;
            }
        }
        if (taken % 200 == 0) nap_ms(1); /* slowness, not synchronisation */
        tcphub_event_release(&ev);
    }
}

/* Takes up to `n` events as `consume` does (without the pauses). */
static void consume_some(struct consumer *c, int n) {
    for (int i = 0; i < n; i++) {
        tcphub_event ev;
        int rc = tcphub_server_next_event(c->s, &ev, 0);
        if (rc == TCPHUB_ERR_TIMEOUT) return;
        CHECK_OK(rc);
        struct seen *one = find(c, ev.client_id);
        if (ev.kind == TCPHUB_EVENT_CONNECTED) {
            CHECK(!one->connected);
            one->connected = 1;
        } else if (ev.kind == TCPHUB_EVENT_MESSAGE) {
            CHECK(one->connected && !one->disconnected && ev.len >= 4);
            CHECK(get_be32(ev.data) == one->next);
            one->next++;
            atomic_fetch_add(&c->messages, 1);
        } else {
            CHECK(0);
        }
        tcphub_event_release(&ev);
    }
}

static tcphub_server *flood_server(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_set_event_capacity(s, CAPACITY));
    CHECK_OK(tcphub_server_set_linger(s, 500));
    CHECK_OK(tcphub_server_start(s));
    return s;
}

/* One DISCONNECTED for every CONNECTED, each after its messages (checked
 * as they came). At most `clients` of them: while the queue is full the
 * server may hold new connections back in the kernel's backlog, and a
 * stop then closes the listener with them unadmitted (never reported). */
static void check_ends(struct consumer *c, int clients) {
    CHECK(c->known >= 1 && c->known <= clients);
    for (int i = 0; i < c->known; i++) CHECK(c->all[i].connected && c->all[i].disconnected);
}

static void stop_while_waiting_idle(int begin) {
    tcphub_server *s = flood_server();
    static struct consumer c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.timeout_ms = -1;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, consume, &c) == 0);
    int fd = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(atomic_load(&c.taken) == 1);
    if (begin) {
        CHECK_OK(tcphub_server_begin_stop(s));
    } else {
        CHECK_OK(tcphub_server_stop(s));
    }
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_RC(c.rc, TCPHUB_ERR_NOT_RUNNING);
    check_ends(&c, 1);
    CHECK(c.all[0].reason == TCPHUB_REASON_SERVER_STOPPED);
    tcphub_server_free(s);
    close(fd);
}

/* A flood that fills the queue; the stop comes while the consumer waits
 * without limit, optionally with input paused or a client paused. */
static void stop_under_flood(int pause_input, int pause_client) {
    tcphub_server *s = flood_server();
    uint16_t port = tcphub_server_port(s);
    static struct consumer c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.timeout_ms = -1;
    pthread_t consumer;
    CHECK(pthread_create(&consumer, NULL, consume, &c) == 0);
    struct sender senders[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){connect_to(port), 10000000, 0};
        CHECK(pthread_create(&threads[i], NULL, sender_thread, &senders[i]) == 0);
    }
    WAIT_UNTIL(atomic_load(&c.messages) >= 5000);
    if (pause_input) CHECK_OK(tcphub_server_pause_input(s));
    if (pause_client) {
        tcphub_client_info info[CLIENTS];
        size_t n = 0;
        CHECK_OK(tcphub_server_clients(s, info, CLIENTS, &n));
        for (size_t i = 0; i < n; i += 2) CHECK_OK(tcphub_server_pause_client(s, info[i].client_id));
    }
    CHECK_OK(tcphub_server_stop(s));
    CHECK(pthread_join(consumer, NULL) == 0);
    CHECK_RC(c.rc, TCPHUB_ERR_NOT_RUNNING);
    check_ends(&c, CLIENTS);
    for (int i = 0; i < c.known; i++) CHECK(c.all[i].reason == TCPHUB_REASON_SERVER_STOPPED);
    for (int i = 0; i < CLIENTS; i++) shutdown(senders[i].fd, SHUT_RDWR);
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(senders[i].fd);
    }
    /* Taken after the stop, the queue says so at once. */
    tcphub_event ev;
    CHECK_RC(tcphub_server_next_event(s, &ev, -1), TCPHUB_ERR_NOT_RUNNING);
    CHECK(tcphub_server_pending_events(s) == 0);
    tcphub_server_free(s);
    printf("# %d messages taken before the stop's end\n", atomic_load(&c.messages));
}

/* A finite flood taken while the consumer pauses and resumes input and
 * single clients over and over: everything comes, once, in order. */
static void toggled_pauses(void) {
    enum { PER_CLIENT = 20000 };
    tcphub_server *s = flood_server();
    uint16_t port = tcphub_server_port(s);
    static struct consumer c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.timeout_ms = 100; /* a poll interval: a pause left on is resumed */
    c.until_ends = CLIENTS;
    c.deadline = now_ms() + 600000; /* generous: valgrind on a loaded machine took over 120 s */
    c.toggle_input = 301;
    c.toggle_client = 113;
    struct sender senders[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){connect_to(port), PER_CLIENT, 0};
        CHECK(pthread_create(&threads[i], NULL, sender_thread, &senders[i]) == 0);
    }
    pthread_t consumer;
    CHECK(pthread_create(&consumer, NULL, consume, &c) == 0);
    for (int i = 0; i < CLIENTS; i++) CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(pthread_join(consumer, NULL) == 0);
    CHECK_OK(c.rc);
    check_ends(&c, CLIENTS);
    CHECK(c.known == CLIENTS);
    for (int i = 0; i < c.known; i++) {
        CHECK(c.all[i].reason == TCPHUB_REASON_CLOSED_BY_PEER);
        if (c.all[i].next != PER_CLIENT) {
            fprintf(stderr, "client %llu: %u of %u messages\n",
                    (unsigned long long)c.all[i].id, c.all[i].next, PER_CLIENT);
            exit(1);
        }
    }
    for (int i = 0; i < CLIENTS; i++) close(senders[i].fd);
    tcphub_server_free(s);
}

/* Several threads wait at once; each event goes to one. A stop under a
 * flood ends every one of them with NOT_RUNNING, and together they got
 * each client's CONNECTED and DISCONNECTED once and a gapless run of its
 * messages, each once. */
#define WAITERS 3
#define MAX_SEQ 2000000

struct shared_take {
    pthread_mutex_t lock;
    tcphub_server *s;
    uint64_t ids[MAX_IDS];
    int connected[MAX_IDS], disconnected[MAX_IDS];
    uint8_t *got[MAX_IDS]; /* one flag per message number */
    uint32_t most[MAX_IDS];
    int known;
    atomic_int messages;
    int rc[WAITERS];
};

struct waiter_arg {
    struct shared_take *t;
    int index;
};

static int slot_of(struct shared_take *t, uint64_t id) {
    for (int i = 0; i < t->known; i++)
        if (t->ids[i] == id) return i;
    CHECK(t->known < MAX_IDS);
    t->ids[t->known] = id;
    t->got[t->known] = calloc(MAX_SEQ, 1);
    CHECK(t->got[t->known] != NULL);
    return t->known++;
}

static void *take_shared(void *arg) {
    struct waiter_arg *w = arg;
    struct shared_take *t = w->t;
    for (;;) {
        tcphub_event ev;
        int rc = tcphub_server_next_event(t->s, &ev, -1);
        if (rc != TCPHUB_OK) {
            t->rc[w->index] = rc;
            return NULL;
        }
        CHECK(pthread_mutex_lock(&t->lock) == 0);
        int i = slot_of(t, ev.client_id);
        if (ev.kind == TCPHUB_EVENT_CONNECTED) {
            CHECK(t->connected[i]++ == 0);
        } else if (ev.kind == TCPHUB_EVENT_DISCONNECTED) {
            CHECK(t->disconnected[i]++ == 0);
            CHECK(ev.reason == TCPHUB_REASON_SERVER_STOPPED);
        } else {
            CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.len >= 4);
            uint32_t seq = get_be32(ev.data);
            CHECK(seq < MAX_SEQ && !t->got[i][seq]);
            t->got[i][seq] = 1;
            if (seq + 1 > t->most[i]) t->most[i] = seq + 1;
            atomic_fetch_add(&t->messages, 1);
        }
        CHECK(pthread_mutex_unlock(&t->lock) == 0);
        tcphub_event_release(&ev);
    }
}

static void stop_with_waiters(void) {
    tcphub_server *s = flood_server();
    uint16_t port = tcphub_server_port(s);
    static struct shared_take t;
    memset(&t, 0, sizeof t);
    CHECK(pthread_mutex_init(&t.lock, NULL) == 0);
    t.s = s;
    pthread_t waiters[WAITERS];
    struct waiter_arg args[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        args[i] = (struct waiter_arg){&t, i};
        t.rc[i] = 1;
        CHECK(pthread_create(&waiters[i], NULL, take_shared, &args[i]) == 0);
    }
    struct sender senders[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){connect_to(port), MAX_SEQ, 0};
        CHECK(pthread_create(&threads[i], NULL, sender_thread, &senders[i]) == 0);
    }
    WAIT_UNTIL(atomic_load(&t.messages) >= 20000);
    CHECK_OK(tcphub_server_stop(s));
    for (int i = 0; i < WAITERS; i++) {
        CHECK(pthread_join(waiters[i], NULL) == 0);
        CHECK_RC(t.rc[i], TCPHUB_ERR_NOT_RUNNING);
    }
    CHECK(t.known >= 1 && t.known <= CLIENTS); /* see check_ends */
    for (int i = 0; i < t.known; i++) {
        CHECK(t.connected[i] == 1 && t.disconnected[i] == 1);
        for (uint32_t k = 0; k < t.most[i]; k++) {
            if (!t.got[i][k]) {
                fprintf(stderr, "client %llu: message %u missing below %u\n",
                        (unsigned long long)t.ids[i], k, t.most[i]);
                exit(1);
            }
        }
        free(t.got[i]);
    }
    for (int i = 0; i < CLIENTS; i++) shutdown(senders[i].fd, SHUT_RDWR);
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(senders[i].fd);
    }
    tcphub_server_free(s);
    pthread_mutex_destroy(&t.lock);
}

/* With nobody taking: after a stop under a flood, pending_events counts
 * exactly what next_event then gives (the leftovers too). */
static void pending_after_stop(void) {
    tcphub_server *s = flood_server();
    uint16_t port = tcphub_server_port(s);
    struct sender senders[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){connect_to(port), MAX_SEQ, 0};
        CHECK(pthread_create(&threads[i], NULL, sender_thread, &senders[i]) == 0);
    }
    /* (While the queue is full the server may hold new clients back: not
     * all of them need be in.) */
    WAIT_UNTIL(tcphub_server_pending_events(s) == CAPACITY && tcphub_server_client_count(s) > 0);
    CHECK_OK(tcphub_server_stop(s));
    size_t pending = tcphub_server_pending_events(s);
    size_t taken = 0, ends = 0, arrivals = 0;
    tcphub_event ev;
    int rc;
    while ((rc = tcphub_server_next_event(s, &ev, 0)) == TCPHUB_OK) {
        taken++;
        ends += ev.kind == TCPHUB_EVENT_DISCONNECTED;
        arrivals += ev.kind == TCPHUB_EVENT_CONNECTED;
        tcphub_event_release(&ev);
        CHECK(tcphub_server_pending_events(s) == pending - taken);
    }
    CHECK_RC(rc, TCPHUB_ERR_NOT_RUNNING);
    printf("# %zu pending after the stop, %zu taken, %zu arrivals, %zu ends\n", pending, taken,
           arrivals, ends);
    CHECK(taken == pending);
    CHECK(ends == arrivals && arrivals > 0);
    /* The queue was full at the stop: the ends (and what the loops read
     * past the full queue) come after it, so more than event_capacity
     * events wait now, and pending_events says so. */
    CHECK(pending > CAPACITY);
    for (int i = 0; i < CLIENTS; i++) shutdown(senders[i].fd, SHUT_RDWR);
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(senders[i].fd);
    }
    tcphub_server_free(s);
}

/* stop_input under a flood that keeps the queue full: "no message event
 * from now on" beyond those already queued, while the server goes on
 * reading to drop what the clients send; the clients' ends are still
 * reported; then the stop ends it. */

static void stop_input_under_flood(void) {
    tcphub_server *s = flood_server();
    uint16_t port = tcphub_server_port(s);
    struct sender senders[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){connect_to(port), UINT32_MAX, 0};
        CHECK(pthread_create(&threads[i], NULL, sender_thread, &senders[i]) == 0);
    }
    WAIT_UNTIL(tcphub_server_pending_events(s) == CAPACITY);
    CHECK_OK(tcphub_server_stop_input(s));
    size_t queued = tcphub_server_pending_events(s);
    /* What is queued stays to take. */
    size_t messages = 0, taken = 0, arrivals = 0;
    tcphub_event ev;
    int rc;
    while ((rc = tcphub_server_next_event(s, &ev, 0)) == TCPHUB_OK) {
        taken++;
        messages += ev.kind == TCPHUB_EVENT_MESSAGE;
        arrivals += ev.kind == TCPHUB_EVENT_CONNECTED;
        CHECK(ev.kind != TCPHUB_EVENT_DISCONNECTED);
        tcphub_event_release(&ev);
    }
    CHECK_RC(rc, TCPHUB_ERR_TIMEOUT);
    printf("# %zu events queued at stop_input, %zu taken (%zu messages)\n", queued, taken, messages);
    CHECK(taken - arrivals <= queued);
    /* The server reads on to drop: another 16 MB read, and not one more
     * message is handed out. */
    uint64_t at = stats_of(s).bytes_in;
    WAIT_UNTIL(stats_of(s).bytes_in > at + 16 * 1024 * 1024);
    while ((rc = tcphub_server_next_event(s, &ev, 0)) == TCPHUB_OK) {
        CHECK(ev.kind == TCPHUB_EVENT_CONNECTED); /* a client accepted late */
        tcphub_event_release(&ev);
    }
    CHECK_RC(rc, TCPHUB_ERR_TIMEOUT);
    /* Then the clients leave: their ends are reported. */
    for (int i = 0; i < CLIENTS; i++) shutdown(senders[i].fd, SHUT_RDWR);
    int ends = 0;
    while (ends < CLIENTS) {
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        CHECK(ev.kind != TCPHUB_EVENT_MESSAGE);
        ends += ev.kind == TCPHUB_EVENT_DISCONNECTED;
        tcphub_event_release(&ev);
    }
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(senders[i].fd);
    }
    CHECK_OK(tcphub_server_stop(s));
    tcphub_server_free(s);
}

/* pause_input from the consumer's thread under a flood with a full queue:
 * what comes after it is what was queued, what waited for room and at most
 * one read in hand per loop (64 KiB each); the server then reads nothing
 * until the resume, and everything comes after it, in order. */
static void pause_input_under_flood(void) {
    tcphub_server *s = flood_server();
    uint16_t port = tcphub_server_port(s);
    static struct consumer c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.timeout_ms = 0;
    struct sender senders[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){connect_to(port), UINT32_MAX, 0};
        CHECK(pthread_create(&threads[i], NULL, sender_thread, &senders[i]) == 0);
    }
    WAIT_UNTIL(tcphub_server_pending_events(s) == CAPACITY);
    CHECK_OK(tcphub_server_pause_input(s));
    CHECK(tcphub_server_input_paused(s));
    uint64_t at_pause = stats_of(s).bytes_in;
    /* Take everything there is, round after round (each ends at the first
     * TIMEOUT; what waited for room may come in between), until a round
     * after a while finds nothing new and the server read nothing. */
    int after = -1;
    uint64_t paused_bytes = 0;
    for (int round = 0; round < 100; round++) {
        consume(&c);
        CHECK_RC(c.rc, TCPHUB_ERR_TIMEOUT);
        if (atomic_load(&c.messages) == after && stats_of(s).bytes_in == paused_bytes) break;
        after = atomic_load(&c.messages);
        paused_bytes = stats_of(s).bytes_in;
        nap_ms(100);
    }
    CHECK(atomic_load(&c.messages) == after);
    printf("# %d messages after the pause; %llu bytes read after it\n", after,
           (unsigned long long)(paused_bytes - at_pause));
    /* At most 2 loops x 64 KiB read after the pause. */
    CHECK(paused_bytes - at_pause <= 2 * 64 * 1024);
    CHECK_OK(tcphub_server_resume_input(s));
    CHECK(!tcphub_server_input_paused(s));
    /* Everything flows again, in order (checked by consume). */
    c.timeout_ms = WAIT_MS;
    WAIT_UNTIL((consume_some(&c, 1000), atomic_load(&c.messages) >= after + 20000));
    for (int i = 0; i < CLIENTS; i++) shutdown(senders[i].fd, SHUT_RDWR);
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(senders[i].fd);
    }
    tcphub_server_free(s);
}

/* Kicks under a flood through a full queue: a kicked client's messages
 * (those read before the kick) come before its DISCONNECTED (KICKED),
 * none after; the others go on to their clean end. */
static void kicks_under_flood(void) {
    enum { PER_CLIENT = 20000 };
    tcphub_server *s = flood_server();
    uint16_t port = tcphub_server_port(s);
    static struct consumer c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.timeout_ms = 100; /* a poll interval */
    c.until_ends = CLIENTS;
    c.deadline = now_ms() + 600000; /* generous: valgrind on a loaded machine took over 120 s */
    c.kick_at = 3000;
    struct sender senders[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){connect_to(port), PER_CLIENT, 0};
        CHECK(pthread_create(&threads[i], NULL, sender_thread, &senders[i]) == 0);
    }
    consume(&c);
    CHECK_OK(c.rc);
    CHECK(c.known == CLIENTS);
    int kicked = 0;
    for (int i = 0; i < c.known; i++) {
        if (c.all[i].reason == TCPHUB_REASON_KICKED) {
            kicked++;
            CHECK(i % 2 == 0 && c.all[i].next >= c.kick_at);
        } else {
            CHECK(c.all[i].reason == TCPHUB_REASON_CLOSED_BY_PEER && c.all[i].next == PER_CLIENT);
        }
    }
    CHECK(kicked == CLIENTS / 2);
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(senders[i].fd);
    }
    tcphub_server_free(s);
}

int main(void) {
    stop_while_waiting_idle(0);
    TEST_PASS("stop from another thread ends a next_event waiting without limit: "
              "SERVER_STOPPED, then NOT_RUNNING");
    stop_while_waiting_idle(1);
    TEST_PASS("begin_stop from another thread ends a next_event waiting without limit");
    stop_under_flood(0, 0);
    TEST_PASS("stop under a flood with a full queue: each client's messages in order, one "
              "DISCONNECTED each, then NOT_RUNNING");
    stop_under_flood(1, 0);
    TEST_PASS("the same with input paused at the stop");
    stop_under_flood(0, 1);
    TEST_PASS("the same with half the clients paused at the stop");
    stop_with_waiters();
    TEST_PASS("several threads waiting without limit: a stop under a flood ends each with "
              "NOT_RUNNING; together they got every event once, no message missing");
    pending_after_stop();
    TEST_PASS("after a stop, pending_events counts what next_event gives, the leftovers too");
    pause_input_under_flood();
    TEST_PASS("pause_input under a flood with a full queue: at most a read in hand per loop "
              "after it, nothing read while paused, all in order after the resume");
    stop_input_under_flood();
    TEST_PASS("stop_input under a flood with a full queue: no message event beyond those queued; "
              "the ends still come");
    kicks_under_flood();
    TEST_PASS("kicks under a flood: a kicked client's messages, then KICKED, nothing after");
    toggled_pauses();
    TEST_PASS("pausing and resuming input and clients over and over under a flood loses, "
              "duplicates and reorders nothing");
    return 0;
}
