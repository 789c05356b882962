/* Addresses on a dual-stack ("::") server: the ip reported in events is
 * what tcphub_server_send_to takes, and so are the other spellings of it —
 * in brackets ("[::1]", as "[ip]:port" prints it), with an IPv6 zone, or an
 * IPv4 client by its IPv4-mapped address. Skipped without IPv6 loopback. */
#include "test_util.h"

/* A blocking TCP connection to [::1]:port, or -1 without IPv6. */
static int connect6_to(uint16_t port) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in6 addr;
    memset(&addr, 0, sizeof addr);
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(port);
    addr.sin6_addr = in6addr_loopback;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The ip text the server reports for the client on local port `port`. */
static void reported_ip(tcphub_server *s, uint16_t port, char *out, size_t cap) {
    tcphub_client_info infos[4];
    size_t n = 0;
    WAIT_UNTIL(tcphub_server_clients(s, infos, 4, &n) == TCPHUB_OK && n == 2);
    for (size_t i = 0; i < n; i++) {
        if (infos[i].port == port) {
            snprintf(out, cap, "%s", infos[i].ip);
            return;
        }
    }
    CHECK(!"client not listed");
}

static void send_and_expect(tcphub_server *s, const char *ip, uint16_t port, int fd) {
    char msg[128];
    snprintf(msg, sizeof msg, "to %s", ip);
    int rc = tcphub_server_send_to(s, ip, port, (const uint8_t *)msg, strlen(msg));
    if (rc != TCPHUB_OK) {
        fprintf(stderr, "send_to(\"%s\", %u): %s\n", ip, port, tcphub_last_error());
        exit(1);
    }
    EXPECT_LINE(fd, msg);
}

int main(void) {
    tcphub_server *s = tcphub_server_new(0, 8);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "::"));
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0));
    if (tcphub_server_start(s) != TCPHUB_OK) {
        printf("ok - SKIPPED: cannot listen on [::] (%s)\n", tcphub_last_error());
        tcphub_server_free(s);
        return 0;
    }
    uint16_t port = tcphub_server_port(s);
    int fd6 = connect6_to(port);
    if (fd6 < 0) {
        printf("ok - SKIPPED: no IPv6 loopback\n");
        tcphub_server_free(s);
        return 0;
    }
    int fd4 = connect_to(port);
    uint16_t p4 = local_port(fd4), p6 = local_port6(fd6);

    char ip[TCPHUB_IP_LEN];
    reported_ip(s, p4, ip, sizeof ip);
    CHECK(strcmp(ip, "127.0.0.1") == 0);
    send_and_expect(s, ip, p4, fd4);
    send_and_expect(s, "::ffff:127.0.0.1", p4, fd4);
    send_and_expect(s, "[::ffff:127.0.0.1]", p4, fd4);
    TEST_PASS("an IPv4 client: as reported, IPv4-mapped, in brackets");

    reported_ip(s, p6, ip, sizeof ip);
    CHECK(strcmp(ip, "::1") == 0);
    send_and_expect(s, ip, p6, fd6);
    send_and_expect(s, "[::1]", p6, fd6);
    send_and_expect(s, "::1%1", p6, fd6);
    send_and_expect(s, "[::1%lo]", p6, fd6);
    TEST_PASS("an IPv6 client: as reported, in brackets, with a zone");

    const uint8_t x[] = {'x'};
    CHECK_RC(tcphub_server_send_to(s, "[127.0.0.1]", p4, x, 1), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_server_send_to(s, "[::1]:80", p6, x, 1), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_server_send_to(s, "localhost", p4, x, 1), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_server_send_to(s, "[::1]", p4, x, 1), TCPHUB_ERR_NO_SUCH_CLIENT);
    TEST_PASS("not an address: INVALID_ARG; another client's ip: NO_SUCH_CLIENT");

    close(fd4);
    close(fd6);
    CHECK_OK(tcphub_server_stop(s));
    tcphub_server_free(s);
    return 0;
}
