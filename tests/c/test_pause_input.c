/* tcphub_server_pause_input / _resume_input / _input_paused: backpressure.
 * While paused the server leaves what clients send in the kernel (sends
 * go on); on resume it arrives, in order, none lost. */
#include "test_util.h"

int main(void) {
    tcphub_event ev;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_RC(tcphub_server_pause_input(s), TCPHUB_ERR_NOT_RUNNING);
    CHECK(strstr(tcphub_last_error(), "never started") != NULL);
    CHECK_RC(tcphub_server_resume_input(s), TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(tcphub_server_pause_input(NULL), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_resume_input(NULL), TCPHUB_ERR_NULL);
    CHECK(!tcphub_server_input_paused(NULL));
    CHECK(!tcphub_server_input_paused(s));
    TEST_PASS("refused before start and for NULL");

    CHECK_OK(tcphub_server_start(s));
    CHECK_OK(tcphub_server_pause_input(s));
    CHECK_OK(tcphub_server_pause_input(s)); /* not counted */
    CHECK(tcphub_server_input_paused(s));
    int fd = connect_to(tcphub_server_port(s));
    uint64_t id = expect_connected(s); /* accepting goes on */
    write_str(fd, "one\ntwo\nthree\n");
    CHECK_OK(tcphub_server_send(s, id, (const uint8_t *)"sends go on", 11));
    EXPECT_LINE(fd, "sends go on");
    CHECK_RC(tcphub_server_next_event(s, &ev, 300), TCPHUB_ERR_TIMEOUT);
    TEST_PASS("paused: nothing read, sends and accepting go on");

    CHECK_OK(tcphub_server_resume_input(s));
    CHECK(!tcphub_server_input_paused(s));
    const char *want[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
        CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.client_id == id);
        CHECK(ev.len == strlen(want[i]) && memcmp(ev.data, want[i], ev.len) == 0);
        tcphub_event_release(&ev);
    }
    CHECK_OK(tcphub_server_resume_input(s)); /* not paused: harmless */
    TEST_PASS("resumed: every message, in order");

    CHECK_OK(tcphub_server_stop(s));
    close(fd);
    CHECK_OK(tcphub_server_pause_input(s)); /* stopped: harmless */
    CHECK_OK(tcphub_server_resume_input(s));
    TEST_PASS("harmless once stopped");

    tcphub_server_free(s);
    return 0;
}
