/* Callbacks with userdata, three real socket clients, broadcast, send_to by
 * ip:port, send by id, kick, peer close, stop, and the userdata destructor. */
#include "test_util.h"

#define N 3

struct hub {
    pthread_mutex_t lock;
    int magic;
    pthread_t main_thread;
    int off_main; /* callbacks seen on a thread other than main */
    int connected;
    uint64_t ids[N];
    uint16_t ports[N];
    char ips[N][64];
    int messages;
    char last_msg[N][64]; /* by connect order */
    int disconnected;
    int reasons[N];
    tcphub_server *srv;
    /* tcphub_server_client_info() from inside on_connect and on_disconnect,
     * for the client the callback is about: its code and the port found. */
    int info_rc_connect[N], info_rc_disconnect[N];
    uint16_t info_port_connect[N], info_port_disconnect[N];
};

static int destroyed;

static int slot_of(struct hub *h, uint64_t id) {
    for (int i = 0; i < h->connected; i++)
        if (h->ids[i] == id) return i;
    return -1;
}

static void on_connect(void *ud, uint64_t id, const char *ip, uint16_t port) {
    struct hub *h = ud;
    pthread_mutex_lock(&h->lock);
    CHECK(h->magic == 0x7cb);
    if (!pthread_equal(pthread_self(), h->main_thread)) h->off_main++;
    CHECK(h->connected < N);
    h->ids[h->connected] = id;
    h->ports[h->connected] = port;
    snprintf(h->ips[h->connected], sizeof h->ips[0], "%s", ip);
    h->reasons[h->connected] = -1;
    tcphub_client_info info;
    h->info_rc_connect[h->connected] = tcphub_server_client_info(h->srv, id, &info);
    h->info_port_connect[h->connected] = info.port;
    h->connected++;
    pthread_mutex_unlock(&h->lock);
}

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    struct hub *h = ud;
    pthread_mutex_lock(&h->lock);
    CHECK(h->magic == 0x7cb);
    int i = slot_of(h, id);
    CHECK(i >= 0);
    CHECK(len < sizeof h->last_msg[0]);
    memcpy(h->last_msg[i], data, len);
    h->last_msg[i][len] = '\0';
    h->messages++;
    pthread_mutex_unlock(&h->lock);
}

static void on_disconnect(void *ud, uint64_t id, int reason) {
    struct hub *h = ud;
    pthread_mutex_lock(&h->lock);
    CHECK(h->magic == 0x7cb);
    int i = slot_of(h, id);
    CHECK(i >= 0);
    CHECK(h->reasons[i] == -1); /* exactly once per client */
    h->reasons[i] = reason;
    tcphub_client_info info;
    h->info_rc_disconnect[i] = tcphub_server_client_info(h->srv, id, &info);
    h->info_port_disconnect[i] = info.port;
    /* Only the client leaving is found that way, not an id nobody has. */
    CHECK(tcphub_server_client_info(h->srv, UINT64_MAX, &info) == TCPHUB_ERR_NO_SUCH_CLIENT);
    h->disconnected++;
    pthread_mutex_unlock(&h->lock);
}

static void destroy(void *ud) {
    struct hub *h = ud;
    CHECK(h->magic == 0x7cb);
    destroyed++;
}

static int locked_int(struct hub *h, const int *field) {
    pthread_mutex_lock(&h->lock);
    int v = *field;
    pthread_mutex_unlock(&h->lock);
    return v;
}

int main(void) {
    static struct hub h;
    pthread_mutex_init(&h.lock, NULL);
    h.magic = 0x7cb;
    h.main_thread = pthread_self();

    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    h.srv = s;
    CHECK_OK(tcphub_server_on_connect(s, on_connect, &h));
    CHECK_OK(tcphub_server_on_message(s, on_message, &h));
    CHECK_OK(tcphub_server_on_disconnect(s, on_disconnect, &h));
    CHECK_OK(tcphub_server_set_userdata_free(s, destroy));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);

    /* Connect one at a time so connect order = slot order. */
    int fd[N];
    for (int i = 0; i < N; i++) {
        fd[i] = connect_to(port);
        WAIT_UNTIL(locked_int(&h, &h.connected) == i + 1);
        CHECK(h.ports[i] == local_port(fd[i]));
        CHECK(strcmp(h.ips[i], "127.0.0.1") == 0);
    }
    CHECK(tcphub_server_client_count(s) == N);
    CHECK(h.ids[0] != h.ids[1] && h.ids[1] != h.ids[2] && h.ids[0] != h.ids[2]);
    TEST_PASS("on_connect gets userdata, id, ip and port of three clients");

    for (int i = 0; i < N; i++) {
        char line[64];
        snprintf(line, sizeof line, "hello from %d\r\n", i);
        write_str(fd[i], line);
    }
    WAIT_UNTIL(locked_int(&h, &h.messages) == N);
    pthread_mutex_lock(&h.lock);
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "hello from %d", i);
        CHECK(strcmp(h.last_msg[i], want) == 0);
    }
    CHECK(h.off_main > 0);
    pthread_mutex_unlock(&h.lock);
    TEST_PASS("on_message gets each client's line, on an event-loop thread");

    size_t queued = 0;
    CHECK_OK(tcphub_server_send_all(s, (const uint8_t *)"broadcast", 9, &queued));
    CHECK(queued == N);
    for (int i = 0; i < N; i++) EXPECT_LINE(fd[i], "broadcast");
    TEST_PASS("send_all reaches all three clients");

    /* Everyone but client 0; the following broadcast shows client 0 got
     * nothing in between. An id nobody has excludes nobody. */
    CHECK_OK(tcphub_server_send_all_except(s, h.ids[0], (const uint8_t *)"not 0", 5, &queued));
    CHECK(queued == N - 1);
    CHECK_OK(tcphub_server_send_all_except(s, UINT64_MAX, (const uint8_t *)"all", 3, &queued));
    CHECK(queued == N);
    for (int i = 1; i < N; i++) EXPECT_LINE(fd[i], "not 0");
    for (int i = 0; i < N; i++) EXPECT_LINE(fd[i], "all");
    TEST_PASS("send_all_except reaches all but the one client");

    /* send_to the middle client by its ip:port; a following broadcast shows
     * the others got nothing in between. */
    CHECK_OK(tcphub_server_send_to(s, "127.0.0.1", h.ports[1], (const uint8_t *)"just you", 8));
    CHECK_OK(tcphub_server_send_all(s, (const uint8_t *)"end", 3, NULL));
    EXPECT_LINE(fd[1], "just you");
    for (int i = 0; i < N; i++) EXPECT_LINE(fd[i], "end");
    TEST_PASS("send_to by ip:port reaches exactly that client");

    CHECK_OK(tcphub_server_send(s, h.ids[2], (const uint8_t *)"by id", 5));
    EXPECT_LINE(fd[2], "by id");
    TEST_PASS("send by client id");

    CHECK_OK(tcphub_server_send(s, h.ids[0], (const uint8_t *)"before kick", 11));
    CHECK_OK(tcphub_server_disconnect(s, h.ids[0]));
    /* Right after the kick: OK while the loop has not applied it yet (then
     * never written, and counted as undelivered), else NO_SUCH_CLIENT. */
    int late = tcphub_server_send(s, h.ids[0], (const uint8_t *)"after kick", 10);
    CHECK(late == TCPHUB_OK || late == TCPHUB_ERR_NO_SUCH_CLIENT);
    EXPECT_LINE(fd[0], "before kick"); /* queued before the kick: still written */
    expect_eof(fd[0]);
    WAIT_UNTIL(locked_int(&h, &h.reasons[0]) == TCPHUB_REASON_KICKED);
    CHECK_RC(tcphub_server_send(s, h.ids[0], (const uint8_t *)"x", 1), TCPHUB_ERR_NO_SUCH_CLIENT);
    tcphub_stats st;
    if (late == TCPHUB_OK) {
        WAIT_UNTIL(tcphub_server_stats(s, &st) == TCPHUB_OK && st.undelivered == 1);
    } else {
        CHECK_OK(tcphub_server_stats(s, &st));
        CHECK(st.undelivered == 0);
    }
    TEST_PASS("disconnect kicks the client (reason KICKED); a send after it is undelivered");

    close(fd[1]);
    WAIT_UNTIL(locked_int(&h, &h.reasons[1]) == TCPHUB_REASON_CLOSED_BY_PEER);
    TEST_PASS("a client closing is reported CLOSED_BY_PEER");

    CHECK_OK(tcphub_server_stop(s));
    /* stop() joined the loops: every callback has run. */
    CHECK(h.reasons[2] == TCPHUB_REASON_SERVER_STOPPED);
    CHECK(h.disconnected == N);
    expect_eof(fd[2]);
    close(fd[0]);
    close(fd[2]);
    TEST_PASS("stop reports SERVER_STOPPED and closes the rest");

    for (int i = 0; i < N; i++) {
        CHECK(h.info_rc_connect[i] == TCPHUB_OK && h.info_port_connect[i] == h.ports[i]);
        CHECK(h.info_rc_disconnect[i] == TCPHUB_OK && h.info_port_disconnect[i] == h.ports[i]);
    }
    tcphub_client_info gone;
    CHECK_RC(tcphub_server_client_info(s, h.ids[2], &gone), TCPHUB_ERR_NO_SUCH_CLIENT);
    TEST_PASS("client_info finds the client in its on_connect and, leaving, in on_disconnect");

    CHECK(destroyed == 0);
    tcphub_server_free(s);
    CHECK(destroyed == 1); /* one distinct userdata, destroyed once */
    TEST_PASS("userdata destructor runs once, at free");
    pthread_mutex_destroy(&h.lock);
    return 0;
}
