/* Review cg: tcphub_last_error() "stays valid until [the thread's] next
 * failing tcphub call" and "successful calls leave it unchanged" — also
 * calls that fail and recover inside (a connect to "localhost" whose
 * first address refuses), a server's whole life, and a client's. The
 * pointer taken after a failure is read again after them (under ASan a
 * replaced string would be a use after free). */
#include "test_util.h"

int main(void) {
    CHECK_RC(tcphub_server_set_bind_ip(NULL, "x"), TCPHUB_ERR_NULL);
    const char *p = tcphub_last_error();
    char saved[256];
    snprintf(saved, sizeof saved, "%s", p);
    CHECK(strstr(saved, "tcphub_server_set_bind_ip") != NULL);

    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    tcphub_client *c = NULL;
    /* localhost may resolve to ::1 first, where nothing listens. */
    CHECK_OK(tcphub_client_connect("localhost", port, TCPHUB_FRAMING_LINES, 0, &c));
    CHECK_OK(tcphub_client_send(c, (const uint8_t *)"hi", 2));
    CHECK_OK(tcphub_client_flush(c, WAIT_MS));
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    tcphub_stats st;
    CHECK_OK(tcphub_server_stats(s, &st));
    CHECK_OK(tcphub_client_close(c));
    int reason = -1;
    CHECK_OK(tcphub_client_disconnect_reason(c, &reason));
    tcphub_client_free(c);
    CHECK_OK(tcphub_server_stop(s));
    tcphub_server_free(s);
    CHECK(tcphub_last_error() == p);
    CHECK(strcmp(p, saved) == 0);
    TEST_PASS("successful calls leave last_error and its pointer alone");
    return 0;
}
