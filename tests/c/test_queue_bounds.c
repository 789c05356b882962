/* Queue bounds at the top of their range, as the header documents them:
 * there is no "no limit" value, and SIZE_MAX is taken as the bound it is
 * (as usize::MAX is by the Rust core) -- one no queue reaches. For a
 * client's outbound queue (server or client side) that means no bound at
 * all; for the pull-mode event queues, no bound on the count while the
 * 64 MiB bound on their messages still holds. */
#include "test_util.h"

#define MSGS 1000
#define MSG_LEN (32 * 1024) /* 32 MB in all: far past the default 4 MiB and the socket buffers */

static uint8_t msg[MSG_LEN];

int main(void) {
    memset(msg, 'x', sizeof msg);

    /* Server: a client that never reads keeps everything queued for it. */
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_max_queue_bytes(s, SIZE_MAX));
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_set_linger(s, 0));
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    for (int i = 0; i < MSGS; i++) CHECK_OK(tcphub_server_send_all(s, msg, sizeof msg, NULL));
    WAIT_UNTIL(stats_of(s).msgs_out == MSGS);
    tcphub_stats st = stats_of(s);
    CHECK(st.slow_consumers == 0 && st.dropped == 0 && st.clients == 1);
    CHECK(tcphub_server_client_count(s) == 1);
    close(fd); /* with input unread: a reset */
    WAIT_UNTIL(stats_of(s).clients == 0);
    st = stats_of(s);
    /* What the kernel did not take (most of the 32 MB) counts as unwritten,
     * line by line (lines framing: broadcasts gathered into one buffer
     * still count one each). */
    CHECK(st.unwritten <= MSGS && st.unwritten >= MSGS - st.bytes_out / (MSG_LEN + 1) - 1);
    tcphub_server_free(s);
    TEST_PASS("server: max_queue_bytes SIZE_MAX is taken, and no client is cut for 32 MB; "
              "what the reset left queued counts as unwritten");

    /* Server, pull mode: an event capacity of SIZE_MAX is taken. */
    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_event_capacity(s, SIZE_MAX));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    fd = connect_to(port);
    write_str(fd, "hello\n");
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    tcphub_event_release(&ev);
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.len == 5 && memcmp(ev.data, "hello", 5) == 0);
    tcphub_event_release(&ev);
    close(fd);
    TEST_PASS("server: event capacity SIZE_MAX is taken; events flow");

    /* Client: both bounds SIZE_MAX are taken; events flow. */
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.framing = TCPHUB_FRAMING_LINES;
    o.max_queue_bytes = SIZE_MAX;
    o.event_capacity = SIZE_MAX;
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", port, &o, &c));
    for (;;) { /* the first client's DISCONNECTED may come first */
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        if (ev.kind == TCPHUB_EVENT_CONNECTED) break;
        tcphub_event_release(&ev);
    }
    CHECK_OK(tcphub_server_send(s, ev.client_id, (const uint8_t *)"back", 4));
    tcphub_event_release(&ev);
    tcphub_message m;
    CHECK_OK(tcphub_client_recv(c, &m, WAIT_MS));
    CHECK(m.len == 4 && memcmp(m.data, "back", 4) == 0);
    tcphub_message_release(&m);
    tcphub_client_free(c);
    tcphub_server_free(s);
    TEST_PASS("client: max_queue_bytes and event_capacity SIZE_MAX are taken");

    /* Client: with max_queue_bytes SIZE_MAX a server that never reads never
     * makes a send return TCPHUB_ERR_QUEUE_FULL. */
    uint16_t silent_port;
    int silent = listen_local(&silent_port);
    tcphub_client_options_init(&o);
    o.max_queue_bytes = SIZE_MAX;
    o.linger_ms = 0;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", silent_port, &o, &c));
    for (int i = 0; i < MSGS; i++) CHECK_OK(tcphub_client_send(c, msg, sizeof msg));
    tcphub_client_free(c);
    close(silent);
    TEST_PASS("client: max_queue_bytes SIZE_MAX, 32 MB to a server that never reads, no QUEUE_FULL");

    /* 0 stays refused for the client (it is the default only for the
     * server's setters). */
    tcphub_client_options_init(&o);
    o.max_queue_bytes = 0;
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", closed_port(), &o, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "max_queue_bytes") != NULL);
    TEST_PASS("client: max_queue_bytes 0 is TCPHUB_ERR_INVALID_ARG");
    return 0;
}
