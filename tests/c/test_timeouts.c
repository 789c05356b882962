/* Server limits and loop settings set from C: an idle client is cut with
 * IDLE_TIMEOUT, a client that starts a frame and never finishes it with
 * FRAME_TIMEOUT, one that sends a frame over max_len with FRAME_TOO_LARGE
 * (each told why by the server's notice when one is set), a
 * non-reading client beyond max_queue_bytes with SLOW_CONSUMER; a
 * busy-polling server serves as usual; a request worked on for longer
 * than the idle timeout is answered. */
#include "test_util.h"

int main(void) {
    CHECK_RC(tcphub_server_set_idle_timeout(NULL, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_frame_timeout(NULL, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_max_queue_bytes(NULL, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_busy_poll(NULL, 1), TCPHUB_ERR_NULL);

    /* More than a second of busy polling is refused at start: a loop would
     * spin for good after its first wakeup (UINT64_MAX was taken before). */
    tcphub_server *spin = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_busy_poll(spin, UINT64_MAX));
    CHECK_RC(tcphub_server_start(spin), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "busy_poll must be at most 1s") != NULL);
    CHECK_OK(tcphub_server_set_busy_poll(spin, 1000000));
    CHECK_OK(tcphub_server_start(spin));
    tcphub_server_free(spin);

    tcphub_server *bp = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_busy_poll(bp, 200));
    CHECK_OK(tcphub_server_start(bp));
    CHECK_RC(tcphub_server_set_busy_poll(bp, 0), TCPHUB_ERR_ALREADY_RUNNING);
    int bfd = connect_to(tcphub_server_port(bp));
    uint64_t bid = expect_connected(bp);
    for (int i = 0; i < 20; i++) {
        tcphub_event ev;
        write_str(bfd, "ping\n");
        CHECK_OK(tcphub_server_next_event(bp, &ev, WAIT_MS));
        CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.client_id == bid && ev.len == 4);
        tcphub_event_release(&ev);
        CHECK_OK(tcphub_server_send(bp, bid, (const uint8_t *)"pong", 4));
        EXPECT_LINE(bfd, "pong");
    }
    close(bfd);
    tcphub_server_free(bp);
    TEST_PASS("a busy-polling server (200 us) serves round trips");

    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_idle_timeout(s, 300));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_set_idle_timeout(s, 1), TCPHUB_ERR_ALREADY_RUNNING);
    int fd = connect_to(tcphub_server_port(s));
    uint64_t id = expect_connected(s);
    expect_disconnect(s, id, TCPHUB_REASON_IDLE_TIMEOUT);
    close(fd);
    CHECK_OK(tcphub_server_stop(s));
    tcphub_server_free(s);
    TEST_PASS("idle client cut with TCPHUB_REASON_IDLE_TIMEOUT");

    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_frame_timeout(s, 300));
    CHECK_OK(tcphub_server_start(s));
    fd = connect_to(tcphub_server_port(s));
    id = expect_connected(s);
    write_str(fd, "a line that never ends");
    expect_disconnect(s, id, TCPHUB_REASON_FRAME_TIMEOUT);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("unfinished frame cut with TCPHUB_REASON_FRAME_TIMEOUT");

    s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_max_queue_bytes(s, 64 * 1024));
    CHECK_OK(tcphub_server_start(s));
    fd = connect_to(tcphub_server_port(s)); /* never reads */
    id = expect_connected(s);
    static uint8_t chunk[16 * 1024];
    memset(chunk, 'z', sizeof chunk);
    int64_t deadline = now_ms() + WAIT_MS;
    int rc = TCPHUB_OK;
    int cut = 0;
    while (rc == TCPHUB_OK && now_ms() < deadline) {
        rc = tcphub_server_send(s, id, chunk, sizeof chunk);
        tcphub_event ev;
        if (tcphub_server_next_event(s, &ev, 0) == TCPHUB_OK) {
            int kind = ev.kind, why = ev.reason;
            uint64_t got = ev.client_id;
            tcphub_event_release(&ev);
            if (kind == TCPHUB_EVENT_DISCONNECTED && got == id) {
                CHECK(why == TCPHUB_REASON_SLOW_CONSUMER);
                cut = 1;
                break;
            }
        }
    }
    CHECK(now_ms() < deadline);
    /* A send that finds the client gone ends the loop, maybe before its
     * DISCONNECTED is queued: the reason is still checked. */
    if (!cut) {
        CHECK_RC(rc, TCPHUB_ERR_NO_SUCH_CLIENT);
        expect_disconnect(s, id, TCPHUB_REASON_SLOW_CONSUMER);
    }
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("non-reader beyond max_queue_bytes cut with TCPHUB_REASON_SLOW_CONSUMER");

    static const char idle_note[] = "disconnected: idle for too long";
    static const char frame_note[] = "disconnected: line not finished in time";
    CHECK_RC(tcphub_server_set_idle_timeout_message(NULL, NULL, 0), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_frame_timeout_message(NULL, NULL, 0), TCPHUB_ERR_NULL);
    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_RC(tcphub_server_set_idle_timeout_message(s, NULL, 3), TCPHUB_ERR_NULL);
    CHECK_OK(tcphub_server_set_idle_timeout_message(s, (const uint8_t *)"two\nlines", 9));
    CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "idle_timeout_message: ") != NULL);
    CHECK_OK(tcphub_server_set_idle_timeout_message(s, NULL, 0)); /* removed */
    CHECK_OK(tcphub_server_start(s));
    tcphub_server_free(s);
    TEST_PASS("a timeout notice the framing cannot carry is refused at start");

    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_idle_timeout(s, 300));
    CHECK_OK(tcphub_server_set_idle_timeout_message(s, (const uint8_t *)idle_note,
                                                    strlen(idle_note)));
    CHECK_OK(tcphub_server_set_frame_timeout_message(s, (const uint8_t *)frame_note,
                                                     strlen(frame_note)));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_set_idle_timeout_message(s, NULL, 0), TCPHUB_ERR_ALREADY_RUNNING);
    fd = connect_to(tcphub_server_port(s));
    id = expect_connected(s);
    expect_disconnect(s, id, TCPHUB_REASON_IDLE_TIMEOUT);
    EXPECT_LINE(fd, idle_note);
    expect_eof(fd);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("an idle client gets the idle notice, then EOF");

    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_frame_timeout(s, 300));
    CHECK_OK(tcphub_server_set_idle_timeout_message(s, (const uint8_t *)idle_note,
                                                    strlen(idle_note)));
    CHECK_OK(tcphub_server_set_frame_timeout_message(s, (const uint8_t *)frame_note,
                                                     strlen(frame_note)));
    CHECK_OK(tcphub_server_start(s));
    fd = connect_to(tcphub_server_port(s));
    id = expect_connected(s);
    write_str(fd, "a line that never ends");
    expect_disconnect(s, id, TCPHUB_REASON_FRAME_TIMEOUT);
    EXPECT_LINE(fd, frame_note);
    expect_eof(fd);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("an unfinished frame gets the frame-timeout notice, then EOF");

    static const char too_long_note[] = "disconnected: a line over 64 bytes";
    CHECK_RC(tcphub_server_set_frame_too_large_message(NULL, NULL, 0), TCPHUB_ERR_NULL);
    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 64));
    CHECK_OK(tcphub_server_set_frame_too_large_message(s, (const uint8_t *)too_long_note,
                                                       strlen(too_long_note)));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_set_frame_too_large_message(s, NULL, 0), TCPHUB_ERR_ALREADY_RUNNING);
    fd = connect_to(tcphub_server_port(s));
    id = expect_connected(s);
    write_str(fd, "fine\n");
    char line[101];
    memset(line, 'x', 100);
    line[100] = '\0';
    write_str(fd, line);
    expect_disconnect(s, id, TCPHUB_REASON_FRAME_TOO_LARGE);
    EXPECT_LINE(fd, too_long_note);
    expect_eof(fd);
    close(fd);
    tcphub_stats st;
    CHECK_OK(tcphub_server_stats(s, &st));
    CHECK(st.frame_too_large == 1 && st.msgs_in == 1);
    tcphub_server_free(s);
    TEST_PASS("a line over max_len gets the frame-too-large notice, then EOF");

    /* A request the application works on for longer than the idle timeout
     * (no call for events meanwhile) is answered: its client waits for the
     * answer, it is not idle. Once the application calls for events again,
     * the idle client is cut. */
    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_idle_timeout(s, 1000));
    CHECK_OK(tcphub_server_start(s));
    fd = connect_to(tcphub_server_port(s));
    id = expect_connected(s);
    write_str(fd, "job\n");
    tcphub_event job;
    CHECK_OK(tcphub_server_next_event(s, &job, WAIT_MS));
    CHECK(job.kind == TCPHUB_EVENT_MESSAGE && job.client_id == id && job.len == 3);
    tcphub_event_release(&job);
    nap_ms(3000); /* the work on it: three idle timeouts */
    CHECK_OK(tcphub_server_send(s, id, (const uint8_t *)"done", 4));
    EXPECT_LINE(fd, "done");
    expect_disconnect(s, id, TCPHUB_REASON_IDLE_TIMEOUT);
    expect_eof(fd);
    close(fd);
    tcphub_server_free(s);
    TEST_PASS("a request worked on for longer than the idle timeout is answered");
    return 0;
}
