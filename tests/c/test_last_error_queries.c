/* Queries whose documented answer for a server that never ran is 0
 * (tcphub_server_port, tcphub_server_client_count) are not failures: they
 * leave tcphub_last_error() alone, so the detail of a failed start can
 * still be read after asking for them. */
#include "test_util.h"

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    tcphub_server *busy = tcphub_server_new(tcphub_server_port(s), 4);
    CHECK(busy != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(busy, "127.0.0.1"));
    CHECK_RC(tcphub_server_start(busy), TCPHUB_ERR_BIND);
    CHECK(tcphub_server_port(busy) == 0);
    CHECK(tcphub_server_client_count(busy) == 0);
    CHECK(!tcphub_server_is_running(busy));
    CHECK(strstr(tcphub_last_error(), "tcphub_server_start") != NULL);
    CHECK(strstr(tcphub_last_error(), "address in use") != NULL);
    tcphub_server_free(busy);
    tcphub_server_free(s);
    TEST_PASS("port and client_count of a never-started server keep last_error");
    return 0;
}
