/* Pull mode under a flood, with a consumer slower than its clients: many
 * clients each send numbered length-prefixed messages as fast as they can
 * to a server with a small event capacity, while the application takes
 * the events one by one, now and then stopping to wait. Every message
 * arrives exactly once, in order per client, between the client's
 * CONNECTED and its one DISCONNECTED; tcphub_server_pending_events never
 * passes the capacity; and a flood of big messages nobody takes keeps the
 * process's memory within the documented 64 MiB bound on the queue's
 * messages (plus what a few reads in hand hold). */
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define CLIENTS 12
#define PER_CLIENT 3000
#ifndef CAPACITY
#define CAPACITY 16
#endif

struct sender {
    uint16_t port;
    uint32_t index;
    int fd;
};

static void write_all(int fd, const uint8_t *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        CHECK(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Message `seq` of client `index`: its index, its number, then seq % 257
 * bytes of filler, so the frames straddle reads everywhere. */
static size_t frame(uint8_t *buf, uint32_t index, uint32_t seq) {
    uint32_t filler = seq % 257;
    put_be32(buf, 8 + filler);
    put_be32(buf + 4, index);
    put_be32(buf + 8, seq);
    memset(buf + 12, (int)(seq & 0xff), filler);
    return 12 + filler;
}

static void *sender_thread(void *arg) {
    struct sender *s = arg;
    uint8_t buf[64 * 1024];
    size_t used = 0;
    for (uint32_t seq = 0; seq < PER_CLIENT; seq++) {
        if (used + 12 + 257 > sizeof buf) {
            write_all(s->fd, buf, used);
            used = 0;
        }
        used += frame(buf + used, s->index, seq);
    }
    write_all(s->fd, buf, used);
    CHECK(shutdown(s->fd, SHUT_WR) == 0);
    return NULL;
}

struct seen {
    uint64_t id;
    int connected;
    int disconnected;
    int64_t index; /* -1 until its first message */
    uint32_t next;
};

static struct seen *find(struct seen *all, int *n, uint64_t id) {
    for (int i = 0; i < *n; i++)
        if (all[i].id == id) return &all[i];
    CHECK(*n < CLIENTS);
    all[*n] = (struct seen){id, 0, 0, -1, 0};
    return &all[(*n)++];
}

static void slow_consumer(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_set_event_capacity(s, CAPACITY));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);

    struct sender senders[CLIENTS];
    pthread_t threads[CLIENTS];
    for (uint32_t i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){port, i, connect_to(port)};
        CHECK(pthread_create(&threads[i], NULL, sender_thread, &senders[i]) == 0);
    }

    struct seen all[CLIENTS];
    int known = 0, gone = 0;
    size_t max_pending = 0;
    int64_t deadline = now_ms() + 600000; /* generous: valgrind on a loaded machine took over 120 s */
    uint64_t taken = 0;
    int looked = 0; /* the last call looked without waiting and found nothing */
    while (gone < CLIENTS) {
        CHECK(now_ms() < deadline);
        size_t pending = tcphub_server_pending_events(s);
        if (pending > max_pending) max_pending = pending;
        tcphub_event ev;
        /* Now and then the consumer looks without waiting (once: after a
         * look that found nothing it waits, rather than spin on the
         * queue's lock; under valgrind, whose threads run one at a time, a
         * consumer polling with timeout 0 kept the loops from the lock
         * for minutes), and every so often it pauses: the queue fills and
         * the loops must hold back. */
        int rc = tcphub_server_next_event(s, &ev, taken % 97 == 0 && !looked ? 0 : WAIT_MS);
        if (rc == TCPHUB_ERR_TIMEOUT) {
            looked = 1;
            continue;
        }
        looked = 0;
        CHECK_OK(rc);
        taken++;
        if (taken % 500 == 0) nap_ms(5); /* slowness, not synchronisation */
        struct seen *c = find(all, &known, ev.client_id);
        switch (ev.kind) {
        case TCPHUB_EVENT_CONNECTED:
            CHECK(!c->connected && !c->disconnected);
            c->connected = 1;
            break;
        case TCPHUB_EVENT_MESSAGE: {
            CHECK(c->connected && !c->disconnected);
            CHECK(ev.len >= 8 && ev.data != NULL);
            uint32_t index = get_be32(ev.data), seq = get_be32(ev.data + 4);
            if (c->index < 0) c->index = index;
            CHECK(c->index == (int64_t)index);
            if (seq != c->next) {
                fprintf(stderr, "client %u: message %u where %u was due\n", index, seq, c->next);
                exit(1);
            }
            CHECK(ev.len == 8 + seq % 257);
            for (size_t k = 8; k < ev.len; k++) CHECK(ev.data[k] == (uint8_t)(seq & 0xff));
            c->next++;
            break;
        }
        case TCPHUB_EVENT_DISCONNECTED:
            CHECK(c->connected && !c->disconnected);
            CHECK(ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
            c->disconnected = 1;
            if (c->next != PER_CLIENT) {
                fprintf(stderr, "client %lld: %u of %u messages before its end\n",
                        (long long)c->index, c->next, PER_CLIENT);
                exit(1);
            }
            gone++;
            break;
        default:
            CHECK(0);
        }
        tcphub_event_release(&ev);
    }
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(senders[i].fd);
    }
    CHECK(max_pending <= CAPACITY);
    tcphub_stats st;
    CHECK_OK(tcphub_server_stats(s, &st));
    CHECK(st.msgs_in == (uint64_t)CLIENTS * PER_CLIENT);
    CHECK(st.dropped == 0);
    tcphub_server_free(s);
    printf("# %llu events taken, at most %zu pending\n", (unsigned long long)taken, max_pending);
    TEST_PASS("pull mode: a slow consumer gets every message of a flood once, in order per "
              "client, and the queue stays within event_capacity");
}

#define BIG (256 * 1024)
#define BIG_CLIENTS 8
#define BIG_PER_CLIENT 128 /* 8 x 128 x 256 KiB = 256 MiB offered */

static void *big_sender(void *arg) {
    struct sender *s = arg;
    uint8_t *buf = malloc(4 + BIG);
    CHECK(buf != NULL);
    put_be32(buf, BIG);
    memset(buf + 4, 'b', BIG);
    for (int i = 0; i < BIG_PER_CLIENT; i++) {
        /* A write fails once the server stops (the test ends early). */
        size_t len = 4 + BIG;
        const uint8_t *p = buf;
        while (len > 0) {
            ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                free(buf);
                return NULL;
            }
            p += n;
            len -= (size_t)n;
        }
    }
    free(buf);
    return NULL;
}

static void memory_bound(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LENGTH_PREFIXED, 1 << 20));
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_set_linger(s, 0));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    long before = rss_kib();

    struct sender senders[BIG_CLIENTS];
    pthread_t threads[BIG_CLIENTS];
    for (uint32_t i = 0; i < BIG_CLIENTS; i++) {
        senders[i] = (struct sender){port, i, connect_to(port)};
        CHECK(pthread_create(&threads[i], NULL, big_sender, &senders[i]) == 0);
    }
    /* Nobody takes events: the queue fills to its byte bound (64 MiB of
     * messages, 256 of these) and the loops stop reading. Wait until the
     * count has stayed put for a while after reaching the bound. */
    size_t last = 0;
    int steady = 0;
    int64_t deadline = now_ms() + 60000;
    while (steady < 200 && now_ms() < deadline) {
        size_t now = tcphub_server_pending_events(s);
        steady = (now == last && now >= 200) ? steady + 1 : 0;
        last = now;
        nap_ms(5);
    }
    long after = rss_kib();
    size_t pending = tcphub_server_pending_events(s);
    /* The events are the clients' CONNECTED and their messages. */
    CHECK(pending > BIG_CLIENTS);
    size_t msgs = pending - BIG_CLIENTS;
    printf("# %zu messages pending (%zu KiB), RSS grew by %ld KiB\n", msgs, msgs * (BIG / 1024),
           after - before);
    /* 64 MiB of messages, the loops' reads in hand and the senders' own
     * buffers: well under 160 MiB. Without the bound it would be 256 MiB. */
    CHECK(msgs * (size_t)BIG <= 64u * 1024 * 1024);
    /* (AddressSanitizer keeps freed memory in quarantine: not there.) */
    if (!UNDER_ASAN) CHECK(after - before < 160 * 1024);
    tcphub_server_stop(s);
    for (int i = 0; i < BIG_CLIENTS; i++) shutdown(senders[i].fd, SHUT_RDWR);
    for (int i = 0; i < BIG_CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        close(senders[i].fd);
    }
    tcphub_server_free(s);
    TEST_PASS("pull mode: a flood nobody takes holds the process's memory near the 64 MiB "
              "bound on the queue's messages");
}

int main(void) {
    slow_consumer();
    memory_bound();
    return 0;
}
