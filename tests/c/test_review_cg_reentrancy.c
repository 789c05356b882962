/* Review cg: a sample of the header's threading and re-entrancy claims,
 * each checked from inside a callback (under ASan+UBSan in
 * scripts/test-c.sh). A callback does not exit the process on a failed
 * check: it answers the test's socket "fail <line>" instead of "ok", so
 * the main thread reports it.
 *
 *  1. "Any tcphub function may be called from inside a callback": the
 *     queries (client_info, clients, stats, client_count, local_addr,
 *     pending_events, is_running, input_paused) answer there.
 *  2. Setters and tcphub_server_start from a callback of the running
 *     server: TCPHUB_ERR_ALREADY_RUNNING; tcphub_server_set_userdata_free
 *     "may also be called while the server runs".
 *  3. tcphub_server_pause_client / _resume_client: "Any thread, also
 *     inside a callback".
 *  4. tcphub_client_send / _flush / _send_timeout / _close_timeout /
 *     _close of a tcphub client inside a server's callback: they do not
 *     wait (close_timeout answers TCPHUB_ERR_TIMEOUT unless the I/O
 *     thread had ended; close returns TCPHUB_OK).
 *  5. tcphub_server_stop_timeout of another server from a callback:
 *     starts the stop and returns at once (TCPHUB_ERR_TIMEOUT unless
 *     stopped); the main thread's tcphub_server_wait then sees it stop.
 *  6. tcphub_last_error is the calling thread's: a failure inside a
 *     callback leaves the main thread's text alone.
 *  7. on_disconnect: tcphub_server_client_info(s, client_id, &info) "from
 *     inside the callback" says who it was; tcphub_disconnect_detail()
 *     names the reason there.
 *  8. tcphub_server_stop from one of the server's own callbacks starts the
 *     stop and returns at once; tcphub_server_wait from the main thread
 *     then returns TCPHUB_OK.
 *  9. The userdata destructor runs once per distinct userdata, after the
 *     last callback.
 * 10. A client handle used from several threads at once (sends from two
 *     threads while a third receives). */
#include "test_util.h"

#include <inttypes.h>

typedef struct {
    tcphub_server *s;       /* the server these callbacks belong to */
    tcphub_server *other;   /* a second server, stopped from a callback */
    tcphub_client *client;  /* a client of `other` */
    atomic_int disconnects;
    atomic_int after_last; /* set by a callback after the destructor ran */
    atomic_int freed;
    char disconnect_ip[TCPHUB_IP_LEN];
    char disconnect_detail[128];
    int disconnect_info_rc;
} hub_t;

#define FAIL_IF(cond)                                       \
    do {                                                    \
        if (cond) {                                         \
            snprintf(reply, sizeof reply, "fail %d", __LINE__); \
            goto answer;                                    \
        }                                                   \
    } while (0)

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    hub_t *h = ud;
    char cmd[32] = {0};
    char reply[64] = "ok";
    memcpy(cmd, data, len < sizeof cmd - 1 ? len : sizeof cmd - 1);
    if (atomic_load(&h->freed)) atomic_store(&h->after_last, 1);

    if (strcmp(cmd, "queries") == 0) { /* 1 */
        tcphub_client_info info, list[4];
        size_t n = 0;
        tcphub_stats st;
        char ip[TCPHUB_IP_LEN];
        uint16_t port = 0;
        FAIL_IF(tcphub_server_client_info(h->s, id, &info) != TCPHUB_OK);
        FAIL_IF(info.client_id != id || strcmp(info.ip, "127.0.0.1") != 0);
        FAIL_IF(tcphub_server_clients(h->s, list, 4, &n) != TCPHUB_OK || n != 1);
        FAIL_IF(tcphub_server_stats(h->s, &st) != TCPHUB_OK || st.msgs_in < 1);
        FAIL_IF(tcphub_server_client_count(h->s) != 1);
        FAIL_IF(tcphub_server_local_addr(h->s, ip, &port) != TCPHUB_OK || port == 0);
        FAIL_IF(!tcphub_server_is_running(h->s) || tcphub_server_input_paused(h->s));
        (void)tcphub_server_pending_events(h->s);
    } else if (strcmp(cmd, "setters") == 0) { /* 2, 6 */
        FAIL_IF(tcphub_server_set_framing(h->s, TCPHUB_FRAMING_RAW, 0) != TCPHUB_ERR_ALREADY_RUNNING);
        FAIL_IF(tcphub_server_set_threads(h->s, 2) != TCPHUB_ERR_ALREADY_RUNNING);
        FAIL_IF(tcphub_server_on_message(h->s, NULL, NULL) != TCPHUB_ERR_ALREADY_RUNNING);
        FAIL_IF(tcphub_server_start(h->s) != TCPHUB_ERR_ALREADY_RUNNING);
        FAIL_IF(strstr(tcphub_last_error(), "tcphub_server_start") == NULL);
    } else if (strcmp(cmd, "pause") == 0) { /* 3 */
        FAIL_IF(tcphub_server_pause_client(h->s, id) != TCPHUB_OK);
        FAIL_IF(tcphub_server_resume_client(h->s, id) != TCPHUB_OK);
    } else if (strcmp(cmd, "client") == 0) { /* 4 */
        const uint8_t *m = (const uint8_t *)"from a callback";
        int rc;
        FAIL_IF(tcphub_client_send(h->client, m, 15) != TCPHUB_OK);
        rc = tcphub_client_send_timeout(h->client, m, 15, 60000);
        FAIL_IF(rc != TCPHUB_OK);
        rc = tcphub_client_flush(h->client, 60000);
        FAIL_IF(rc != TCPHUB_OK && rc != TCPHUB_ERR_TIMEOUT);
        rc = tcphub_client_close_timeout(h->client, 60000);
        FAIL_IF(rc != TCPHUB_OK && rc != TCPHUB_ERR_TIMEOUT);
        FAIL_IF(tcphub_client_close(h->client) != TCPHUB_OK);
        FAIL_IF(tcphub_client_is_open(h->client));
    } else if (strcmp(cmd, "stop other") == 0) { /* 5 */
        int rc = tcphub_server_stop_timeout(h->other, 60000);
        FAIL_IF(rc != TCPHUB_OK && rc != TCPHUB_ERR_TIMEOUT);
    } else if (strcmp(cmd, "stop") == 0) { /* 8 */
        FAIL_IF(tcphub_server_stop(h->s) != TCPHUB_OK);
        FAIL_IF(tcphub_server_stop_timeout(h->s, 60000) != TCPHUB_ERR_TIMEOUT);
        return; /* the stop refuses sends from here on: no answer */
    } else {
        snprintf(reply, sizeof reply, "unknown command");
    }
answer:
    tcphub_server_send(h->s, id, (const uint8_t *)reply, strlen(reply));
}

static void on_disconnect(void *ud, uint64_t id, int reason) { /* 7 */
    hub_t *h = ud;
    tcphub_client_info info;
    (void)reason;
    if (atomic_load(&h->freed)) atomic_store(&h->after_last, 1);
    h->disconnect_info_rc = tcphub_server_client_info(h->s, id, &info);
    if (h->disconnect_info_rc == TCPHUB_OK) memcpy(h->disconnect_ip, info.ip, sizeof info.ip);
    snprintf(h->disconnect_detail, sizeof h->disconnect_detail, "%s", tcphub_disconnect_detail());
    atomic_fetch_add(&h->disconnects, 1);
}

static void free_hub(void *ud) { /* 9 */
    hub_t *h = ud;
    atomic_fetch_add(&h->freed, 1);
}

typedef struct {
    tcphub_client *c;
    int sent;
} sender_t;

static void *send_lines(void *arg) {
    sender_t *t = arg;
    for (int i = 0; i < 100; i++)
        if (tcphub_client_send(t->c, (const uint8_t *)"line", 4) == TCPHUB_OK) t->sent++;
    return NULL;
}

int main(void) {
    static hub_t hub;
    hub_t *h = &hub;

    /* The second server and a tcphub client of it. */
    h->other = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(h->other));
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(h->other), TCPHUB_FRAMING_LINES, 0,
                                   &h->client));

    h->s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(h->s, 1));
    CHECK_OK(tcphub_server_on_message(h->s, on_message, h));
    CHECK_OK(tcphub_server_on_disconnect(h->s, on_disconnect, h));
    CHECK_OK(tcphub_server_start(h->s));
    CHECK_OK(tcphub_server_set_userdata_free(h->s, free_hub)); /* while it runs */
    int fd = connect_to(tcphub_server_port(h->s));

    /* A failure of this thread's own, to see that callbacks leave it. */
    CHECK_RC(tcphub_server_set_bind_ip(h->other, "not an ip"), TCPHUB_ERR_ALREADY_RUNNING);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", tcphub_last_error());

    write_str(fd, "queries\n");
    EXPECT_LINE(fd, "ok");
    TEST_PASS("1: queries answer inside a callback");
    write_str(fd, "setters\n");
    EXPECT_LINE(fd, "ok");
    CHECK(strcmp(tcphub_last_error(), mine) == 0);
    TEST_PASS("2, 6: setters and start refused inside a callback; last_error is per thread");
    write_str(fd, "pause\n");
    EXPECT_LINE(fd, "ok");
    TEST_PASS("3: pause and resume a client inside its own callback");

    /* 10: a client handle shared by threads. */
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(h->other), TCPHUB_FRAMING_LINES, 0, &c));
    sender_t a = {c, 0}, b = {c, 0};
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, send_lines, &a) == 0);
    CHECK(pthread_create(&tb, NULL, send_lines, &b) == 0);
    CHECK(pthread_join(ta, NULL) == 0 && pthread_join(tb, NULL) == 0);
    CHECK(a.sent == 100 && b.sent == 100);
    CHECK_OK(tcphub_client_flush(c, WAIT_MS));
    tcphub_client_free(c);
    TEST_PASS("10: one client handle, sends from two threads");

    write_str(fd, "client\n");
    EXPECT_LINE(fd, "ok");
    tcphub_client_free(h->client);
    TEST_PASS("4: a client's send, flush, close_timeout and close inside a server's callback");

    write_str(fd, "stop other\n");
    EXPECT_LINE(fd, "ok");
    CHECK_OK(tcphub_server_wait(h->other, WAIT_MS));
    CHECK(!tcphub_server_is_running(h->other));
    tcphub_server_free(h->other);
    TEST_PASS("5: stop_timeout of another server inside a callback, waited for outside");

    write_str(fd, "stop\n");
    CHECK_OK(tcphub_server_wait(h->s, WAIT_MS));
    CHECK(atomic_load(&h->disconnects) == 1);
    CHECK(h->disconnect_info_rc == TCPHUB_OK);
    CHECK(strcmp(h->disconnect_ip, "127.0.0.1") == 0);
    CHECK(strlen(h->disconnect_detail) > 0);
    TEST_PASS("7, 8: stop inside the server's own callback; on_disconnect knows who and why");

    close(fd);
    CHECK(atomic_load(&h->freed) == 0);
    tcphub_server_free(h->s);
    CHECK(atomic_load(&h->freed) == 1); /* one userdata, three registrations */
    CHECK(atomic_load(&h->after_last) == 0);
    TEST_PASS("9: the userdata destructor ran once, after the last callback");
    return 0;
}
