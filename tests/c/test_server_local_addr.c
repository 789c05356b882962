/* tcphub_server_local_addr(): where the server listens, IP and port, as
 * Rust's local_addr() and Python's address give it (C had only the port:
 * a server bound to "::" or given its address from a config file could
 * not print what it listens on without keeping the text itself). */
#include "test_util.h"

/* Checks that the server says it listens on `want_ip`, port `want_port`. */
static void check_addr(tcphub_server *s, const char *want_ip, uint16_t want_port) {
    char ip[TCPHUB_IP_LEN];
    uint16_t port = 1;
    CHECK_OK(tcphub_server_local_addr(s, ip, &port));
    if (strcmp(ip, want_ip) != 0 || port != want_port) {
        fprintf(stderr, "local_addr: %s port %u, wanted %s port %u\n", ip, (unsigned)port,
                want_ip, (unsigned)want_port);
        exit(1);
    }
}

int main(void) {
    char ip[TCPHUB_IP_LEN] = "x";
    uint16_t port = 1;
    CHECK_RC(tcphub_server_local_addr(NULL, ip, &port), TCPHUB_ERR_NULL);
    CHECK(ip[0] == '\0' && port == 0);

    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    strcpy(ip, "x");
    port = 1;
    CHECK_RC(tcphub_server_local_addr(s, ip, &port), TCPHUB_ERR_NOT_RUNNING);
    CHECK(ip[0] == '\0' && port == 0);
    CHECK(strstr(tcphub_last_error(), "never started") != NULL);
    TEST_PASS("NULL: ERR_NULL; never started: ERR_NOT_RUNNING; both leave \"\" and 0");

    CHECK_OK(tcphub_server_start(s));
    uint16_t listening = tcphub_server_port(s);
    CHECK(listening != 0);
    check_addr(s, "127.0.0.1", listening);
    CHECK_RC(tcphub_server_local_addr(s, NULL, &port), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_local_addr(s, ip, NULL), TCPHUB_ERR_NULL);
    /* It is where a client connects to. */
    uint16_t got_port;
    CHECK_OK(tcphub_server_local_addr(s, ip, &got_port));
    int fd = connect_to(got_port);
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    close(fd);
    TEST_PASS("bound to 127.0.0.1, port 0: the address and the real port");

    CHECK_OK(tcphub_server_stop(s));
    check_addr(s, "127.0.0.1", listening);
    tcphub_server_free(s);
    TEST_PASS("after a stop: the last run's address");

    /* Dual-stack: "::". */
    tcphub_server *d = tcphub_server_new(0, 4);
    CHECK(d != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(d, "::"));
    if (tcphub_server_start(d) == TCPHUB_OK) {
        check_addr(d, "::", tcphub_server_port(d));
        TEST_PASS("bound to \"::\": \"::\"");
    } else {
        TEST_PASS("skipped: no IPv6 here");
    }
    tcphub_server_free(d);
    return 0;
}
