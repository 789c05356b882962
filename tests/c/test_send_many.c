/* tcphub_server_send_many: one message, framed once, to the connected
 * clients among a list of ids (a topic's subscribers). Exactly the listed
 * connected clients get it, once each; bad arguments and refused messages
 * are error codes with nothing sent; from a callback it reaches the
 * listed clients in the order of the other sends. */
#include "test_util.h"

#define MSG(s) (const uint8_t *)(s), strlen(s)

/* The callback test's subscribers: every client but none at first. */
typedef struct {
    tcphub_server *server;
    uint64_t ids[3];
    atomic_size_t n;
} topic;

/* Publishes each message to the subscribers, bracketed by replies to its
 * sender. */
static void publish(void *ud, uint64_t from, const uint8_t *data, size_t len) {
    topic *t = ud;
    size_t queued = 0;
    CHECK_OK(tcphub_server_send(t->server, from, MSG("before")));
    size_t n = atomic_load(&t->n);
    CHECK_OK(tcphub_server_send_many(t->server, t->ids, n, data, len, &queued));
    CHECK(queued == n);
    CHECK_OK(tcphub_server_send(t->server, from, MSG("after")));
}

int main(void) {
    /* A pull-mode server: the test takes the events. */
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    int fd[3];
    uint64_t id[3];
    for (int i = 0; i < 3; i++) {
        fd[i] = connect_to(port);
        id[i] = expect_connected(s);
    }

    uint64_t list[4] = {id[2], id[0], id[2], 999999};
    size_t queued = 99;
    CHECK_OK(tcphub_server_send_many(s, list, 4, MSG("news"), &queued));
    CHECK(queued == 2);
    CHECK_OK(tcphub_server_send_all(s, MSG("end"), &queued));
    CHECK(queued == 3);
    EXPECT_LINE(fd[0], "news");
    EXPECT_LINE(fd[0], "end");
    EXPECT_LINE(fd[1], "end");
    EXPECT_LINE(fd[2], "news");
    EXPECT_LINE(fd[2], "end");
    TEST_PASS("the listed connected clients get it once; the count says 2");

    queued = 99;
    CHECK_OK(tcphub_server_send_many(s, NULL, 0, MSG("nobody"), &queued));
    CHECK(queued == 0);
    CHECK_OK(tcphub_server_send_many(s, list + 3, 1, MSG("nobody"), NULL));
    queued = 99;
    CHECK_RC(tcphub_server_send_many(s, NULL, 2, MSG("x"), &queued), TCPHUB_ERR_NULL);
    CHECK(queued == 0);
    CHECK(strstr(tcphub_last_error(), "tcphub_server_send_many") != NULL);
    CHECK(strstr(tcphub_last_error(), "ids is NULL") != NULL);
    uint64_t raw[3] = {0, 0, 0};
    const uint64_t *odd = (const uint64_t *)(const void *)((const char *)raw + 4);
    CHECK_RC(tcphub_server_send_many(s, odd, 1, MSG("x"), &queued), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "aligned") != NULL);
    CHECK_RC(tcphub_server_send_many(s, id, 3, MSG("a\nb"), &queued),
             TCPHUB_ERR_INVALID_MESSAGE);
    CHECK(queued == 0);
    CHECK_RC(tcphub_server_send_many(s, id, 3, NULL, 1, &queued), TCPHUB_ERR_NULL);
    CHECK_OK(tcphub_server_send_all(s, MSG("next"), NULL));
    for (int i = 0; i < 3; i++)
        EXPECT_LINE(fd[i], "next");
    TEST_PASS("NULL ids, misaligned ids, a bad message: error codes, nothing sent");

    CHECK_OK(tcphub_server_stop(s));
    CHECK_RC(tcphub_server_send_many(s, id, 3, MSG("late"), &queued), TCPHUB_ERR_NOT_RUNNING);
    CHECK(queued == 0);
    CHECK_RC(tcphub_server_send_many(NULL, id, 3, MSG("x"), NULL), TCPHUB_ERR_NULL);
    for (int i = 0; i < 3; i++)
        close(fd[i]);
    tcphub_server_free(s);
    TEST_PASS("after stop: NOT_RUNNING; a NULL server: NULL");

    /* From a callback, on two loops: every subscriber gets every
     * publication in order; the publisher its before/publication/after. */
    topic t = {.n = 0};
    t.server = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(t.server, 2));
    CHECK_OK(tcphub_server_on_message(t.server, publish, &t));
    CHECK_OK(tcphub_server_start(t.server));
    port = tcphub_server_port(t.server);
    for (int i = 0; i < 3; i++) {
        fd[i] = connect_to(port);
        WAIT_UNTIL(tcphub_server_client_count(t.server) == (size_t)i + 1);
    }
    tcphub_client_info infos[3];
    size_t listed = 0;
    CHECK_OK(tcphub_server_clients(t.server, infos, 3, &listed));
    CHECK(listed == 3);
    for (int i = 0; i < 3; i++)
        t.ids[i] = infos[i].client_id;
    atomic_store(&t.n, 3);
    char text[32];
    for (int round = 0; round < 30; round++) {
        int p = round % 3;
        snprintf(text, sizeof text, "pub %d", round);
        write_str(fd[p], text);
        write_str(fd[p], "\n");
        EXPECT_LINE(fd[p], "before");
        EXPECT_LINE(fd[p], text);
        EXPECT_LINE(fd[p], "after");
        for (int i = 0; i < 3; i++)
            if (i != p)
                EXPECT_LINE(fd[i], text);
    }
    for (int i = 0; i < 3; i++)
        close(fd[i]);
    CHECK_OK(tcphub_server_stop(t.server));
    tcphub_server_free(t.server);
    TEST_PASS("from on_message on two loops: in order with the other sends");
    return 0;
}
