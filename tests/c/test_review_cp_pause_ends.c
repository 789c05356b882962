/* Pull mode: a client's end while it (or all input) is paused, against the
 * header's words. tcphub_server_pause_client: "its end is noticed only at
 * the resume, unless it is gone (it reset, ...): then what it sent is read
 * and handed out, and it is closed". tcphub_server_pause_input: "nothing is
 * lost or dropped", and "a client that leaves or resets is noticed only
 * once input resumes". */
#include "test_util.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

static void expect_message(tcphub_server *s, uint64_t id, const char *want) {
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    if (ev.kind != TCPHUB_EVENT_MESSAGE || ev.client_id != id || ev.len != strlen(want) ||
        memcmp(ev.data, want, ev.len) != 0) {
        fprintf(stderr, "got kind %d from %llu (%.*s), expected \"%s\" from %llu\n", ev.kind,
                (unsigned long long)ev.client_id, (int)ev.len, ev.data ? (char *)ev.data : "",
                want, (unsigned long long)id);
        exit(1);
    }
    tcphub_event_release(&ev);
}

static void expect_end(tcphub_server *s, uint64_t id, int reason) {
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    if (ev.kind != TCPHUB_EVENT_DISCONNECTED || ev.client_id != id || ev.reason != reason) {
        fprintf(stderr, "got kind %d from %llu reason %d, expected the end of %llu (%d)\n",
                ev.kind, (unsigned long long)ev.client_id, ev.reason, (unsigned long long)id,
                reason);
        exit(1);
    }
    tcphub_event_release(&ev);
}

/* Waits until the server's system has acknowledged all `fd` wrote. */
static void wait_acked(int fd) {
    int unacked = 1;
    int64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        CHECK(ioctl(fd, SIOCOUTQ, &unacked) == 0);
        if (unacked == 0) return;
        CHECK(now_ms() < deadline);
        nap_ms(2);
    }
}

static void reset(int fd) {
    struct linger lg = {1, 0};
    CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    close(fd);
}

/* A paused client's marker: once `probe` (another client of the same
 * single loop) is handed out, the loop has applied the pause sent before
 * it. */
static void settle(tcphub_server *s, uint64_t probe_id, int probe) {
    write_str(probe, "probe\n");
    expect_message(s, probe_id, "probe");
}

/* The same under a flood through a full queue: the client floods numbered
 * frames, is paused while its events wait for room, then resets: every
 * frame the server's system acknowledged comes, in order, then RESET,
 * without a resume. */
struct flooder {
    int fd;
    atomic_int stop;
    uint64_t bytes;
    uint32_t frames;
};

static void *flood_thread(void *arg) {
    struct flooder *f = arg;
    uint8_t buf[8 * 1024];
    for (size_t i = 0; i + 8 <= sizeof buf; i += 8) put_be32(buf + i, 4);
    while (!atomic_load(&f->stop)) {
        for (size_t i = 0; i + 8 <= sizeof buf; i += 8) put_be32(buf + i + 4, f->frames + (uint32_t)(i / 8));
        size_t off = 0;
        while (off < sizeof buf) {
            ssize_t n = send(f->fd, buf + off, sizeof buf - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (atomic_load(&f->stop) && off % 8 == 0) break;
                struct pollfd p = {f->fd, POLLOUT, 0};
                poll(&p, 1, 10);
                continue;
            }
            CHECK(n > 0);
            off += (size_t)n;
            f->bytes += (uint64_t)n;
        }
        f->frames += (uint32_t)(off / 8);
    }
    return NULL;
}

static uint32_t seq_of(const tcphub_event *ev) {
    return (uint32_t)ev->data[0] << 24 | (uint32_t)ev->data[1] << 16 | (uint32_t)ev->data[2] << 8 |
           ev->data[3];
}

static void paused_reset_under_flood(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_set_event_capacity(s, 8));
    CHECK_OK(tcphub_server_start(s));
    static struct flooder f;
    f.fd = connect_to(tcphub_server_port(s));
    uint64_t id = expect_connected(s);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, flood_thread, &f) == 0);
    WAIT_UNTIL(tcphub_server_pending_events(s) == 8);
    CHECK_OK(tcphub_server_pause_client(s, id));
    /* Take a few (the loop gets the pause meanwhile), then let the flood
     * fill the buffers and stop. */
    uint32_t next = 0;
    tcphub_event ev;
    for (int i = 0; i < 4; i++) {
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.len == 4);
        CHECK(seq_of(&ev) == next);
        tcphub_event_release(&ev);
        next++;
    }
    atomic_store(&f.stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    int unacked = 0;
    CHECK(ioctl(f.fd, SIOCOUTQ, &unacked) == 0);
    uint64_t acked = (f.bytes - (uint64_t)unacked) / 8;
    reset(f.fd);
    for (;;) {
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        if (ev.kind == TCPHUB_EVENT_DISCONNECTED) break;
        CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.len == 4);
        CHECK(seq_of(&ev) == next);
        tcphub_event_release(&ev);
        next++;
    }
    printf("# %u frames sent, %llu acknowledged, %u taken; reason %d\n", f.frames,
           (unsigned long long)acked, next, ev.reason);
    CHECK(ev.reason == TCPHUB_REASON_RESET);
    CHECK(next >= acked);
    tcphub_event_release(&ev);
    tcphub_server_free(s);
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    int probe = connect_to(port);
    uint64_t probe_id = expect_connected(s);

    /* A paused client that resets: what it sent comes, then its end,
     * without a resume. */
    int a = connect_to(port);
    uint64_t ia = expect_connected(s);
    CHECK_OK(tcphub_server_pause_client(s, ia));
    settle(s, probe_id, probe);
    write_str(a, "one\ntwo\n");
    wait_acked(a);
    reset(a);
    expect_message(s, ia, "one");
    expect_message(s, ia, "two");
    expect_end(s, ia, TCPHUB_REASON_RESET);
    TEST_PASS("pause_client: a client that resets while paused: its messages, then RESET");

    /* A paused client that ends cleanly: noticed at the resume, after its
     * messages. */
    int b = connect_to(port);
    uint64_t ib = expect_connected(s);
    CHECK_OK(tcphub_server_pause_client(s, ib));
    settle(s, probe_id, probe);
    write_str(b, "three\n");
    wait_acked(b);
    close(b);
    settle(s, probe_id, probe); /* its end is not reported before the resume */
    CHECK_OK(tcphub_server_resume_client(s, ib));
    expect_message(s, ib, "three");
    expect_end(s, ib, TCPHUB_REASON_CLOSED_BY_PEER);
    TEST_PASS("pause_client: a clean end while paused comes at the resume, after its messages");

    /* Input paused: a client that resets meanwhile loses nothing it sent
     * before its reset; its end comes once input resumes. */
    int c = connect_to(port);
    uint64_t ic = expect_connected(s);
    CHECK_OK(tcphub_server_pause_input(s));
    write_str(c, "four\nfive\n");
    wait_acked(c);
    reset(c);
    int d = connect_to(port); /* accepting goes on */
    uint64_t id = expect_connected(s);
    CHECK_OK(tcphub_server_resume_input(s));
    expect_message(s, ic, "four");
    expect_message(s, ic, "five");
    expect_end(s, ic, TCPHUB_REASON_RESET);
    close(d);
    expect_end(s, id, TCPHUB_REASON_CLOSED_BY_PEER);
    TEST_PASS("pause_input: a client that resets while paused: its messages, then RESET");

    close(probe);
    tcphub_server_free(s);
    /* (Under load this failed in up to 4 of 10 runs until the forty-second
     * session: a reset the loop saw before it applied the pause waited for
     * a resume. rust/tests/pause_client.rs has the deterministic case.) */
    paused_reset_under_flood();
    TEST_PASS("pause_client under a flood with a full queue, then a reset: every "
              "acknowledged frame, then RESET, without a resume");
    return 0;
}
