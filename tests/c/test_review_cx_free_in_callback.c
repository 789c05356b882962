/* tcphub_server_free called from inside the server's own callbacks (the
 * header: "from inside one the memory is released only when the last
 * event-loop thread ends"): from on_connect, on_message and on_disconnect,
 * with two loops and two clients. Each time the clients are closed, the
 * other callbacks still run with valid userdata, every client is reported
 * once, and the userdata destructor runs exactly once after the last
 * callback. Also: a tcphub_client freed from inside a server callback, and
 * sends / kicks of other clients from inside one. Meant for ASan and
 * valgrind, which see a use after free or a leak. */
#include "test_util.h"

enum where { FREE_IN_CONNECT, FREE_IN_MESSAGE, FREE_IN_DISCONNECT };

struct ctx {
    tcphub_server *server;
    enum where where;
    atomic_int connects;
    atomic_int disconnects;
    atomic_int freed;         /* tcphub_server_free calls made */
    atomic_int destroyed;     /* userdata destructor calls */
    atomic_int after_destroy; /* callbacks seen after the destructor */
    atomic_int free_armed;    /* set by the main thread: the next event frees */
};

static void maybe_free(struct ctx *c, enum where w) {
    int armed = 1;
    if (c->where == w && atomic_compare_exchange_strong(&c->free_armed, &armed, 0)) {
        tcphub_server_free(c->server);
        atomic_fetch_add(&c->freed, 1);
    }
}

static void note_callback(struct ctx *c) {
    if (atomic_load(&c->destroyed)) atomic_fetch_add(&c->after_destroy, 1);
}

static void on_connect(void *ud, uint64_t id, const char *ip, uint16_t port) {
    (void)id, (void)ip, (void)port;
    struct ctx *c = ud;
    note_callback(c);
    atomic_fetch_add(&c->connects, 1);
    maybe_free(c, FREE_IN_CONNECT);
}

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id, (void)data, (void)len;
    struct ctx *c = ud;
    note_callback(c);
    maybe_free(c, FREE_IN_MESSAGE);
}

static void on_disconnect(void *ud, uint64_t id, int reason) {
    (void)id, (void)reason;
    struct ctx *c = ud;
    note_callback(c);
    atomic_fetch_add(&c->disconnects, 1);
    maybe_free(c, FREE_IN_DISCONNECT);
}

static void destroy(void *ud) {
    struct ctx *c = ud;
    atomic_fetch_add(&c->destroyed, 1);
}

static void free_from(enum where w, const char *name) {
    static struct ctx c; /* outlives the last event-loop thread */
    memset(&c, 0, sizeof c);
    c.where = w;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    c.server = s;
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_on_connect(s, on_connect, &c));
    CHECK_OK(tcphub_server_on_message(s, on_message, &c));
    CHECK_OK(tcphub_server_on_disconnect(s, on_disconnect, &c));
    CHECK_OK(tcphub_server_set_userdata_free(s, destroy));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    int a = connect_to(port);
    WAIT_UNTIL(atomic_load(&c.connects) == 1);
    if (w != FREE_IN_CONNECT) {
        int b = connect_to(port);
        WAIT_UNTIL(atomic_load(&c.connects) == 2);
        atomic_store(&c.free_armed, 1);
        if (w == FREE_IN_MESSAGE) {
            write_str(b, "free\n");
        } else {
            close(b); /* its on_disconnect frees the server */
            b = -1;
        }
        if (b >= 0) {
            expect_eof(b);
            close(b);
        }
    } else {
        atomic_store(&c.free_armed, 1);
        int b = connect_to(port); /* its on_connect frees the server */
        expect_eof(b);
        close(b);
    }
    expect_eof(a);
    close(a);
    WAIT_UNTIL(atomic_load(&c.destroyed) == 1);
    CHECK(atomic_load(&c.freed) == 1);
    CHECK(atomic_load(&c.disconnects) == atomic_load(&c.connects));
    CHECK(atomic_load(&c.after_destroy) == 0);
    /* The destructor ran once, after the last callback. */
    CHECK(atomic_load(&c.destroyed) == 1);
    TEST_PASS(name);
}

/* A tcphub_client freed from inside a server callback (not its own server's
 * client: the C client has no callbacks), while sends to other clients and
 * a kick happen in the same callback. */
struct free_client_ctx {
    tcphub_server *server;
    tcphub_client *client;
    atomic_int done;
    atomic_int kicked;
};

static void free_client_on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    struct free_client_ctx *c = ud;
    if (len == 4 && memcmp(data, "kill", 4) == 0) {
        CHECK_OK(tcphub_client_send(c->client, (const uint8_t *)"last", 4));
        tcphub_client_free(c->client);
        c->client = NULL;
        CHECK_OK(tcphub_server_send(c->server, id, (const uint8_t *)"freed", 5));
        size_t queued = 0;
        CHECK_OK(tcphub_server_send_all(c->server, (const uint8_t *)"all", 3, &queued));
        CHECK(queued >= 1);
        CHECK_OK(tcphub_server_disconnect(c->server, id));
        int again = tcphub_server_disconnect(c->server, id);
        CHECK(again == TCPHUB_OK || again == TCPHUB_ERR_NO_SUCH_CLIENT);
        atomic_store(&c->done, 1);
    }
}

static void free_client_on_disconnect(void *ud, uint64_t id, int reason) {
    (void)id;
    struct free_client_ctx *c = ud;
    if (reason == TCPHUB_REASON_KICKED) atomic_fetch_add(&c->kicked, 1);
}

static void client_freed_in_callback(void) {
    static struct free_client_ctx c;
    memset(&c, 0, sizeof c);
    tcphub_server *peer = new_local_server(TCPHUB_FRAMING_LINES); /* what the client dials */
    CHECK_OK(tcphub_server_start(peer));
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    c.server = s;
    CHECK_OK(tcphub_server_on_message(s, free_client_on_message, &c));
    CHECK_OK(tcphub_server_on_disconnect(s, free_client_on_disconnect, &c));
    CHECK_OK(tcphub_server_start(s));
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(peer), TCPHUB_FRAMING_LINES, 0,
                                   &c.client));
    uint64_t peer_id = expect_connected(peer);
    int fd = connect_to(tcphub_server_port(s));
    write_str(fd, "kill\n");
    EXPECT_LINE(fd, "freed");
    EXPECT_LINE(fd, "all");
    expect_eof(fd);
    close(fd);
    WAIT_UNTIL(atomic_load(&c.done) == 1 && atomic_load(&c.kicked) == 1);
    /* The peer got the client's last message (the free flushed, or the
     * close is under way) or at least its departure; it never hangs. */
    tcphub_event ev = {0};
    int64_t deadline = now_ms() + WAIT_MS;
    int gone = 0;
    while (!gone && now_ms() < deadline) {
        int rc = tcphub_server_next_event(peer, &ev, 100);
        if (rc == TCPHUB_OK && ev.kind == TCPHUB_EVENT_DISCONNECTED && ev.client_id == peer_id) gone = 1;
        tcphub_event_release(&ev);
    }
    CHECK(gone);
    tcphub_server_free(s);
    tcphub_server_free(peer);
    TEST_PASS("tcphub_client_free, sends and a kick from inside a server callback");
}

/* The client freed is the one whose message runs the callback: a client of
 * this very server, whose I/O the callback's own loop serves. */
struct own_ctx {
    tcphub_client *client;
    atomic_int freed;
    atomic_int disconnected;
};

static void own_on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)id, (void)data, (void)len;
    struct own_ctx *c = ud;
    if (!atomic_load(&c->freed)) {
        CHECK_OK(tcphub_client_send(c->client, (const uint8_t *)"more", 4));
        tcphub_client_free(c->client);
        atomic_store(&c->freed, 1);
    }
}

static void own_on_disconnect(void *ud, uint64_t id, int reason) {
    (void)id, (void)reason;
    struct own_ctx *c = ud;
    atomic_fetch_add(&c->disconnected, 1);
}

static void own_client_freed_in_callback(void) {
    static struct own_ctx c;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_on_message(s, own_on_message, &c));
    CHECK_OK(tcphub_server_on_disconnect(s, own_on_disconnect, &c));
    CHECK_OK(tcphub_server_start(s));
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(s), TCPHUB_FRAMING_LINES, 0,
                                   &c.client));
    CHECK_OK(tcphub_client_send(c.client, (const uint8_t *)"free me", 7));
    WAIT_UNTIL(atomic_load(&c.freed) == 1 && atomic_load(&c.disconnected) == 1);
    tcphub_server_free(s);
    TEST_PASS("a server's own client freed from inside the callback of its message");
}

int main(void) {
    free_from(FREE_IN_MESSAGE, "tcphub_server_free from inside on_message");
    free_from(FREE_IN_DISCONNECT, "tcphub_server_free from inside on_disconnect");
    free_from(FREE_IN_CONNECT, "tcphub_server_free from inside on_connect");
    client_freed_in_callback();
    own_client_freed_in_callback();
    return 0;
}
