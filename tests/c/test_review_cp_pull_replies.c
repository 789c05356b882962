/* Pull mode, the header's promise for clients that finish sending: "held
 * open after its DISCONNECTED so tcphub_server_send still reach[es] it,
 * until the next call of this function". Many clients each send a burst of
 * lines and half-close at once, through a small event queue; the consumer
 * answers every message as it takes it and says "bye" on each
 * DISCONNECTED before asking for the next event. Every client reads all
 * its answers and the "bye", in order, then the end. */
#include "test_util.h"

#define CLIENTS 16
#define LINES 400
#define CAPACITY 8

struct peer {
    int fd;
    int index;
    int ok;
};

static void *peer_thread(void *arg) {
    struct peer *p = arg;
    char buf[64];
    /* Everything at once, then the half-close. */
    char *all = malloc(LINES * 32);
    CHECK(all != NULL);
    size_t used = 0;
    for (int i = 0; i < LINES; i++)
        used += (size_t)snprintf(all + used, 32, "c%d-%d\n", p->index, i);
    size_t off = 0;
    while (off < used) {
        ssize_t n = write(p->fd, all + off, used - off);
        CHECK(n > 0);
        off += (size_t)n;
    }
    free(all);
    CHECK(shutdown(p->fd, SHUT_WR) == 0);
    for (int i = 0; i < LINES; i++) {
        char want[32];
        snprintf(want, sizeof want, "re c%d-%d", p->index, i);
        read_line(p->fd, buf, sizeof buf);
        if (strcmp(buf, want) != 0) {
            fprintf(stderr, "client %d read \"%s\", expected \"%s\"\n", p->index, buf, want);
            exit(1);
        }
    }
    read_line(p->fd, buf, sizeof buf);
    CHECK(strcmp(buf, "bye") == 0);
    expect_eof(p->fd);
    p->ok = 1;
    return NULL;
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_set_event_capacity(s, CAPACITY));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    struct peer peers[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        peers[i] = (struct peer){connect_to(port), i, 0};
        CHECK(pthread_create(&threads[i], NULL, peer_thread, &peers[i]) == 0);
    }
    int ended = 0;
    uint64_t taken = 0;
    int64_t deadline = now_ms() + 600000; /* generous: valgrind on a loaded machine took over 120 s */
    while (ended < CLIENTS) {
        CHECK(now_ms() < deadline);
        tcphub_event ev;
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        if (ev.kind == TCPHUB_EVENT_MESSAGE) {
            char reply[64];
            int n = snprintf(reply, sizeof reply, "re %.*s", (int)ev.len, (const char *)ev.data);
            CHECK_OK(tcphub_server_send(s, ev.client_id, (const uint8_t *)reply, (size_t)n));
        } else if (ev.kind == TCPHUB_EVENT_DISCONNECTED) {
            CHECK(ev.reason == TCPHUB_REASON_CLOSED_BY_PEER);
            CHECK_OK(tcphub_server_send(s, ev.client_id, (const uint8_t *)"bye", 3));
            ended++;
        }
        tcphub_event_release(&ev);
        if (++taken % 300 == 0) nap_ms(2); /* slowness, not synchronisation */
    }
    /* The last client's hold ends with the next call. */
    tcphub_event ev;
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_TIMEOUT);
    for (int i = 0; i < CLIENTS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(peers[i].ok);
        close(peers[i].fd);
    }
    tcphub_server_free(s);
    TEST_PASS("pull mode: clients that half-close under a flood get every answer and the "
              "answer to their end, then EOF");
    return 0;
}
