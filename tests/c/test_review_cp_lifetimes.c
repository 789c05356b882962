/* The header's lifetimes for the bytes pull mode hands out: an event's
 * `data` (and a client's message or event message) is "owned by the event
 * until" its release — so it stays valid after the next event is taken
 * (into another struct), after the server is stopped and freed (the client
 * closed and freed), and release frees it exactly once; a released or
 * zeroed struct released again is harmless. Meant for valgrind and
 * AddressSanitizer, which see any use after free. */
#include "test_util.h"

#define KEPT 64

static void check_bytes(const uint8_t *data, size_t len, int i) {
    char want[32];
    int n = snprintf(want, sizeof want, "message %d", i);
    CHECK(len == (size_t)n && memcmp(data, want, len) == 0);
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    int fd = connect_to(tcphub_server_port(s));
    uint64_t id = expect_connected(s);
    for (int i = 0; i < KEPT; i++) {
        char line[32];
        snprintf(line, sizeof line, "message %d\n", i);
        write_str(fd, line);
    }
    /* Every message kept in its own event, none released yet. */
    static tcphub_event kept[KEPT];
    for (int i = 0; i < KEPT; i++) {
        CHECK_OK(tcphub_server_next_event(s, &kept[i], WAIT_MS));
        CHECK(kept[i].kind == TCPHUB_EVENT_MESSAGE && kept[i].client_id == id);
    }
    /* A client connects and is answered: the server side of it is used
     * again after the pull, while the kept bytes stay. */
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(s), TCPHUB_FRAMING_LINES, 0, &c));
    uint64_t cid = expect_connected(s);
    for (int i = 0; i < KEPT; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "message %d", i);
        CHECK_OK(tcphub_server_send(s, cid, (const uint8_t *)msg, (size_t)n));
    }
    static tcphub_message msgs[KEPT / 2];
    static tcphub_client_event cevs[KEPT / 2];
    for (int i = 0; i < KEPT; i++) {
        if (i % 2 == 0) {
            CHECK_OK(tcphub_client_recv(c, &msgs[i / 2], WAIT_MS));
        } else {
            CHECK_OK(tcphub_client_next_event(c, &cevs[i / 2], WAIT_MS));
            CHECK(cevs[i / 2].kind == TCPHUB_CLIENT_EVENT_MESSAGE);
        }
    }
    close(fd);
    tcphub_server_stop(s);
    tcphub_server_free(s);
    tcphub_client_free(c);
    /* Server and client gone: the bytes are still there. */
    for (int i = 0; i < KEPT; i++) {
        check_bytes(kept[i].data, kept[i].len, i);
        if (i % 2 == 0) {
            check_bytes(msgs[i / 2].data, msgs[i / 2].len, i);
        } else {
            check_bytes(cevs[i / 2].message.data, cevs[i / 2].message.len, i);
        }
    }
    for (int i = 0; i < KEPT; i++) {
        tcphub_event_release(&kept[i]);
        CHECK(kept[i].data == NULL && kept[i].len == 0 && kept[i].kind == TCPHUB_EVENT_NONE);
        tcphub_event_release(&kept[i]);
    }
    for (int i = 0; i < KEPT / 2; i++) {
        tcphub_message_release(&msgs[i]);
        CHECK(msgs[i].data == NULL && msgs[i].len == 0);
        tcphub_message_release(&msgs[i]);
        tcphub_client_event_release(&cevs[i]);
        CHECK(cevs[i].message.data == NULL && cevs[i].kind == TCPHUB_CLIENT_EVENT_NONE);
        tcphub_client_event_release(&cevs[i]);
    }
    TEST_PASS("event and message bytes live until their release, past the next take and past "
              "the server's and the client's free; a second release is harmless");
    return 0;
}
