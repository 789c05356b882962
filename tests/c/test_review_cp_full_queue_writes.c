/* A full event queue stops reading, not writing: while the application
 * takes nothing and its peer floods it, what the application sends still
 * goes out (a "stop sending" request must get through). For the C client
 * (tcphub_client_send + tcphub_client_flush) and for a pull-mode server
 * (tcphub_server_send to a flooding client, and to another client). */
#include "test_util.h"

#define CAPACITY 4

/* Floods `fd` with 4-byte-payload frames until told to stop or the peer is
 * gone. */
struct flood {
    int fd;
    atomic_int stop;
    /* Read by the main thread while this one counts: atomic (helgrind). */
    _Atomic uint64_t frames;
};

static void *flood_thread(void *arg) {
    struct flood *f = arg;
    uint8_t buf[8 * 1024];
    for (size_t i = 0; i + 8 <= sizeof buf; i += 8) {
        put_be32(buf + i, 4);
        put_be32(buf + i + 4, (uint32_t)i);
    }
    while (!atomic_load(&f->stop)) {
        ssize_t n = send(f->fd, buf, sizeof buf, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd p = {f->fd, POLLOUT, 0};
            poll(&p, 1, 10); /* to look at `stop` now and then */
            continue;
        }
        if (n <= 0) return NULL;
        f->frames += (uint64_t)n / 8;
    }
    return NULL;
}

/* Reads length-prefixed frames from `fd` until one whose payload is
 * `want`, skipping the 4-byte ones; fails after WAIT_MS. */
static void expect_frame(int fd, const char *want) {
    int64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        uint8_t head[4];
        for (int i = 0; i < 4; i++) {
            char ch;
            int r = read_byte(fd, &ch, deadline);
            CHECK(r == 1);
            head[i] = (uint8_t)ch;
        }
        uint32_t len = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 |
                       (uint32_t)head[2] << 8 | head[3];
        CHECK(len < 4096);
        char body[4096];
        for (uint32_t i = 0; i < len; i++) {
            int r = read_byte(fd, &body[i], deadline);
            CHECK(r == 1);
        }
        if (len == strlen(want) && memcmp(body, want, len) == 0) return;
    }
}

static void client_side(void) {
    uint16_t port;
    int l = listen_local(&port);
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.framing = TCPHUB_FRAMING_LENGTH_PREFIXED;
    o.event_capacity = CAPACITY;
    o.linger_ms = 0;
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", port, &o, &c));
    struct flood f = {accept(l, NULL, NULL), 0, 0};
    CHECK(f.fd >= 0);
    close(l);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, flood_thread, &f) == 0);
    /* The flood has filled the queue and the buffers: the flooder is
     * stuck (nobody takes). */
    tcphub_ready_fd *r = NULL;
    CHECK_OK(tcphub_client_ready_fd(c, &r));
    if (tcphub_ready_fd_arm(r) == 1) {
        struct pollfd p = {tcphub_ready_fd_fileno(r), POLLIN, 0};
        CHECK(poll(&p, 1, WAIT_MS) == 1);
    }
    tcphub_ready_fd_free(r);
    uint64_t last = 0;
    int steady = 0;
    while (steady < 50) {
        uint64_t now = atomic_load(&f.frames);
        steady = now == last ? steady + 1 : 0;
        last = now;
        nap_ms(5);
    }
    /* Now the application speaks: its message goes out at once. */
    CHECK_OK(tcphub_client_send(c, (const uint8_t *)"please stop", 11));
    CHECK_OK(tcphub_client_flush(c, WAIT_MS));
    atomic_store(&f.stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    expect_frame(f.fd, "please stop");
    tcphub_client_free(c);
    close(f.fd);
}

static void server_side(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LENGTH_PREFIXED);
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_set_event_capacity(s, CAPACITY));
    CHECK_OK(tcphub_server_set_linger(s, 0));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    int quiet = connect_to(port);
    uint64_t quiet_id = expect_connected(s);
    struct flood f = {connect_to(port), 0, 0};
    uint64_t id = expect_connected(s);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, flood_thread, &f) == 0);
    WAIT_UNTIL(tcphub_server_pending_events(s) == CAPACITY);
    uint64_t last = 0;
    int steady = 0;
    while (steady < 50) {
        uint64_t now = atomic_load(&f.frames);
        steady = now == last ? steady + 1 : 0;
        last = now;
        nap_ms(5);
    }
    CHECK_OK(tcphub_server_send(s, quiet_id, (const uint8_t *)"to the quiet one", 16));
    expect_frame(quiet, "to the quiet one");
    CHECK_OK(tcphub_server_send(s, id, (const uint8_t *)"please stop", 11));
    atomic_store(&f.stop, 1);
    CHECK(pthread_join(t, NULL) == 0);
    expect_frame(f.fd, "please stop");
    close(quiet);
    close(f.fd);
    tcphub_server_free(s);
}

int main(void) {
    client_side();
    TEST_PASS("client: with its event queue full under a flood, a send is written (flush OK) "
              "and reaches the server");
    server_side();
    TEST_PASS("pull-mode server: with its event queue full under a flood, sends still reach the "
              "flooding client and another one");
    return 0;
}
