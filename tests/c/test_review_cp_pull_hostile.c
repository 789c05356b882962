/* Pull mode against hostile clients through a small, full event queue:
 * each floods numbered frames and then ends its own way — a frame over
 * max_len, a reset in the middle of a frame, a close in the middle of a
 * frame, a clean close. The slow consumer gets every message the server's
 * system had whole, in order, then one DISCONNECTED with the right reason. */
#include "test_util.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#define MAX_LEN 1000
#define FLOOD 20000
#ifndef CAPACITY
#define CAPACITY 8
#endif

enum ending { END_OVERSIZE, END_RESET_MID_FRAME, END_FIN_MID_FRAME, END_CLEAN, ENDINGS };

static const int want_reason[ENDINGS] = {TCPHUB_REASON_FRAME_TOO_LARGE, TCPHUB_REASON_RESET,
                                         TCPHUB_REASON_IO, TCPHUB_REASON_CLOSED_BY_PEER};

struct hostile {
    int fd;
    enum ending ending;
    uint64_t bytes;
    uint32_t acked; /* reset: frames the server's system had whole */
};

static size_t frame(uint8_t *buf, uint32_t seq) {
    uint32_t filler = seq % 301;
    put_be32(buf, 4 + filler);
    put_be32(buf + 4, seq);
    memset(buf + 8, (int)(seq & 0xff), filler);
    return 8 + filler;
}

static void write_all(struct hostile *h, const uint8_t *p, size_t len) {
    while (len > 0) {
        ssize_t n = send(h->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        CHECK(n > 0);
        p += n;
        len -= (size_t)n;
        h->bytes += (uint64_t)n;
    }
}

static void *hostile_thread(void *arg) {
    struct hostile *h = arg;
    uint8_t buf[32 * 1024];
    size_t used = 0;
    for (uint32_t seq = 0; seq < FLOOD; seq++) {
        if (used + 8 + 301 > sizeof buf) {
            write_all(h, buf, used);
            used = 0;
        }
        used += frame(buf + used, seq);
    }
    write_all(h, buf, used);
    uint8_t head[6];
    switch (h->ending) {
    case END_OVERSIZE:
        put_be32(head, MAX_LEN + 1);
        write_all(h, head, 4);
        break;
    case END_RESET_MID_FRAME: {
        put_be32(head, 100);
        head[4] = head[5] = 'h';
        write_all(h, head, 6);
        int unacked = 0;
        CHECK(ioctl(h->fd, SIOCOUTQ, &unacked) == 0);
        uint64_t acked = h->bytes - (uint64_t)unacked, at = 0;
        h->acked = 0;
        while (h->acked < FLOOD && at + 8 + h->acked % 301 <= acked) at += 8 + h->acked++ % 301;
        struct linger lg = {1, 0};
        CHECK(setsockopt(h->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
        close(h->fd);
        h->fd = -1;
        break;
    }
    case END_FIN_MID_FRAME:
        put_be32(head, 100);
        head[4] = head[5] = 'h';
        write_all(h, head, 6);
        CHECK(shutdown(h->fd, SHUT_WR) == 0);
        break;
    case END_CLEAN:
        CHECK(shutdown(h->fd, SHUT_WR) == 0);
        break;
    default:
        CHECK(0);
    }
    return NULL;
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LENGTH_PREFIXED, MAX_LEN));
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_set_event_capacity(s, CAPACITY));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);

    struct hostile hs[ENDINGS];
    pthread_t threads[ENDINGS];
    uint16_t ports[ENDINGS];
    for (int i = 0; i < ENDINGS; i++) {
        hs[i] = (struct hostile){connect_to(port), (enum ending)i, 0, 0};
        ports[i] = local_port(hs[i].fd);
        CHECK(pthread_create(&threads[i], NULL, hostile_thread, &hs[i]) == 0);
    }
    struct {
        uint64_t id;
        int which;
        uint32_t next;
        int reason;
    } seen[ENDINGS];
    int known = 0, ended = 0;
    uint64_t taken = 0;
    int64_t deadline = now_ms() + 600000; /* generous: valgrind on a loaded machine took over 120 s */
    while (ended < ENDINGS) {
        CHECK(now_ms() < deadline);
        tcphub_event ev;
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        if (++taken % 1000 == 0) nap_ms(3); /* slowness, not synchronisation */
        int i = 0;
        while (i < known && seen[i].id != ev.client_id) i++;
        if (ev.kind == TCPHUB_EVENT_CONNECTED) {
            CHECK(i == known && known < ENDINGS);
            seen[i].id = ev.client_id;
            seen[i].which = -1;
            for (int k = 0; k < ENDINGS; k++)
                if (ports[k] == ev.port) seen[i].which = k;
            CHECK(seen[i].which >= 0);
            seen[i].next = 0;
            seen[i].reason = -1;
            known++;
        } else {
            CHECK(i < known && seen[i].reason == -1);
            if (ev.kind == TCPHUB_EVENT_MESSAGE) {
                CHECK(ev.len >= 4);
                uint32_t seq = get_be32(ev.data);
                if (seq != seen[i].next) {
                    fprintf(stderr, "client %d: message %u where %u was due\n", seen[i].which,
                            seq, seen[i].next);
                    exit(1);
                }
                CHECK(ev.len == 4 + seq % 301);
                seen[i].next++;
            } else {
                CHECK(ev.kind == TCPHUB_EVENT_DISCONNECTED);
                seen[i].reason = ev.reason;
                ended++;
            }
        }
        tcphub_event_release(&ev);
    }
    for (int i = 0; i < ENDINGS; i++) CHECK(pthread_join(threads[i], NULL) == 0);
    for (int i = 0; i < known; i++) {
        int w = seen[i].which;
        printf("# ending %d: %u messages, reason %d\n", w, seen[i].next, seen[i].reason);
        CHECK(seen[i].reason == want_reason[w]);
        if (w == END_RESET_MID_FRAME) {
            CHECK(seen[i].next >= hs[w].acked);
        } else {
            CHECK(seen[i].next == FLOOD);
        }
    }
    for (int i = 0; i < ENDINGS; i++)
        if (hs[i].fd >= 0) close(hs[i].fd);
    tcphub_server_free(s);
    TEST_PASS("pull mode: floods ending with an oversize frame, a reset or a close mid-frame, "
              "or a clean close: every message whole at the server, in order, then the reason");
    return 0;
}
