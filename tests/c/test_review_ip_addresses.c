/* Review (addresses): a dual-stack ("::") server in pull mode reports an
 * IPv4 client as plain IPv4 in its events and its listing, and
 * tcphub_server_send_to finds it by that and by its IPv4-mapped spelling;
 * spellings that are no IP address are TCPHUB_ERR_INVALID_ARG, never
 * another client; per-IP limits count an IPv4 client alike through "::"
 * and "0.0.0.0"; per_ip_ipv6_prefix takes 1 to 128 only; a client dialling
 * "::1", "[::1]" and "localhost" reports its addresses as the server lists
 * them. Loopback only; the IPv6 parts are skipped without IPv6 loopback. */
#include "test_util.h"

#include <limits.h>

static int have_v6(void) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in6 addr;
    memset(&addr, 0, sizeof addr);
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    int ok = bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

static int connect6_to(uint16_t port) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in6 addr;
    memset(&addr, 0, sizeof addr);
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(port);
    addr.sin6_addr = in6addr_loopback;
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    return fd;
}

/* The next CONNECTED event: its ip into `ip`, its port returned. */
static uint16_t connected_ip(tcphub_server *s, char ip[TCPHUB_IP_LEN]) {
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(s, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_CONNECTED);
    CHECK(memchr(ev.ip, '\0', TCPHUB_IP_LEN) != NULL);
    memcpy(ip, ev.ip, TCPHUB_IP_LEN);
    uint16_t port = ev.port;
    tcphub_event_release(&ev);
    return port;
}

static tcphub_server *dual_stack(size_t per_ip, unsigned prefix) {
    tcphub_server *s = tcphub_server_new(0, 16);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "::"));
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0));
    if (per_ip > 0) {
        CHECK_OK(tcphub_server_set_max_clients_per_ip(s, per_ip));
        CHECK_OK(tcphub_server_set_per_ip_ipv6_prefix(s, prefix));
        static const char notice[] = "per ip";
        CHECK_OK(tcphub_server_set_per_ip_full_message(s, (const uint8_t *)notice,
                                                       strlen(notice)));
    }
    if (tcphub_server_start(s) != TCPHUB_OK) {
        tcphub_server_free(s);
        return NULL;
    }
    return s;
}

static void sends_spellings(void) {
    tcphub_server *s = dual_stack(0, 128);
    if (s == NULL) {
        printf("ok - SKIPPED: cannot listen on [::] (%s)\n", tcphub_last_error());
        return;
    }
    uint16_t port = tcphub_server_port(s);
    int fd4 = connect_to(port);
    char ip[TCPHUB_IP_LEN];
    uint16_t p4 = connected_ip(s, ip);
    CHECK(p4 == local_port(fd4));
    CHECK(strcmp(ip, "127.0.0.1") == 0);
    tcphub_client_info info;
    size_t n = 0;
    CHECK_OK(tcphub_server_clients(s, &info, 1, &n));
    CHECK(n == 1 && strcmp(info.ip, "127.0.0.1") == 0 && info.port == p4);

    const char *good[] = {"127.0.0.1", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]",
                          "::FFFF:127.0.0.1", "::ffff:7f00:1", "::ffff:127.0.0.1%lo"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char line[64];
        snprintf(line, sizeof line, "to %s", good[i]);
        CHECK_OK(tcphub_server_send_to(s, good[i], p4, (const uint8_t *)line, strlen(line)));
        EXPECT_LINE(fd4, line);
    }
    TEST_PASS("dual stack: an IPv4 client is 127.0.0.1 and found by its mapped spellings");

    const char *bad[] = {"",           " 127.0.0.1",    "127.0.0.1 ",  "127.000.000.001",
                         "127.0.0.01", "127.1",         "0x7f.0.0.1",  "[127.0.0.1]",
                         "127.0.0.1:1", "::1%",         "[::1%]",      "%lo",
                         "localhost",  "LOCALHOST",     "fe80::1%a b", "[::1]:80"};
    const uint8_t x[] = {'x'};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = tcphub_server_send_to(s, bad[i], p4, x, 1);
        if (rc != TCPHUB_ERR_INVALID_ARG) {
            fprintf(stderr, "send_to(\"%s\"): %d %s\n", bad[i], rc, tcphub_last_error());
            exit(1);
        }
        CHECK(strstr(tcphub_last_error(), "IP address") != NULL);
    }
    CHECK_RC(tcphub_server_send_to(s, NULL, p4, x, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_send_to(s, "::ffff:127.0.0.2", p4, x, 1), TCPHUB_ERR_NO_SUCH_CLIENT);
    CHECK_RC(tcphub_server_send_to(s, "::127.0.0.1", p4, x, 1), TCPHUB_ERR_NO_SUCH_CLIENT);
    TEST_PASS("spellings that are no IP address: INVALID_ARG; other addresses: NO_SUCH_CLIENT");

    if (have_v6()) {
        int fd6 = connect6_to(port);
        uint16_t p6 = connected_ip(s, ip);
        CHECK(p6 == local_port6(fd6));
        CHECK(strcmp(ip, "::1") == 0);
        const char *v6[] = {"::1", "[::1]", "0:0:0:0:0:0:0:1", "::1%lo", "[::1%1]"};
        for (size_t i = 0; i < sizeof v6 / sizeof *v6; i++) {
            char line[64];
            snprintf(line, sizeof line, "to %s", v6[i]);
            CHECK_OK(tcphub_server_send_to(s, v6[i], p6, (const uint8_t *)line, strlen(line)));
            EXPECT_LINE(fd6, line);
        }
        close(fd6);
        TEST_PASS("dual stack: an IPv6 client is ::1 in its spellings");
    }
    close(fd4);
    tcphub_server_free(s);
}

static void per_ip_alike(void) {
    unsigned prefixes[] = {1, 64, 96, 127, 128};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        tcphub_server *s = dual_stack(1, prefixes[i]);
        if (s == NULL) return;
        uint16_t port = tcphub_server_port(s);
        int a = connect_to(port);
        WAIT_UNTIL(tcphub_server_client_count(s) == 1);
        int refused = connect_to(port);
        char line[64];
        read_line(refused, line, sizeof line);
        CHECK(strcmp(line, "per ip") == 0);
        expect_eof(refused);
        close(refused);
        if (have_v6()) {
            int b = connect6_to(port);
            WAIT_UNTIL(tcphub_server_client_count(s) == 2);
            int again = connect6_to(port);
            read_line(again, line, sizeof line);
            CHECK(strcmp(line, "per ip") == 0);
            close(again);
            close(b);
        }
        close(a);
        tcphub_server_free(s);
    }
    TEST_PASS("per IP through [::]: IPv4 counted whole and apart from ::1, any prefix");

    tcphub_server *s = tcphub_server_new(0, 4);
    unsigned bad[] = {0, 129, 255, 256, 256 + 64, UINT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_RC(tcphub_server_set_per_ip_ipv6_prefix(s, bad[i]), TCPHUB_ERR_INVALID_ARG);
        CHECK(strstr(tcphub_last_error(), "1 to 128") != NULL);
    }
    unsigned good[] = {1, 64, 127, 128};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK_OK(tcphub_server_set_per_ip_ipv6_prefix(s, good[i]));
    tcphub_server_free(s);
    TEST_PASS("per_ip_ipv6_prefix: 1 to 128, nothing truncated into range");
}

static void client_dials(const char *host, tcphub_server *s, uint16_t port) {
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect(host, port, TCPHUB_FRAMING_LINES, 0, &c));
    char peer[TCPHUB_IP_LEN], local[TCPHUB_IP_LEN];
    uint16_t pp = 0, lp = 0;
    CHECK_OK(tcphub_client_peer_addr(c, peer, &pp));
    CHECK_OK(tcphub_client_local_addr(c, local, &lp));
    CHECK(pp == port);
    CHECK(strncmp(peer, "::ffff:", 7) != 0 && strncmp(local, "::ffff:", 7) != 0);
    tcphub_client_info info;
    size_t n = 0;
    WAIT_UNTIL(tcphub_server_clients(s, &info, 1, &n) == TCPHUB_OK && n == 1);
    if (strcmp(info.ip, local) != 0 || info.port != lp) {
        fprintf(stderr, "%s: client says %s:%u, server lists %s:%u\n", host, local,
                (unsigned)lp, info.ip, (unsigned)info.port);
        exit(1);
    }
    tcphub_client_free(c);
    WAIT_UNTIL(tcphub_server_client_count(s) == 0);
}

static void client_names(void) {
    tcphub_server *s = tcphub_server_new(0, 16);
    CHECK_OK(tcphub_server_set_bind_ip(s, "::"));
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0));
    if (tcphub_server_start(s) != TCPHUB_OK) {
        tcphub_server_free(s);
        return;
    }
    uint16_t port = tcphub_server_port(s);
    char ip[TCPHUB_IP_LEN];
    uint16_t lport = 0;
    CHECK_OK(tcphub_server_local_addr(s, ip, &lport));
    CHECK(strcmp(ip, "::") == 0 && lport == port);
    client_dials("127.0.0.1", s, port);
    client_dials("::ffff:127.0.0.1", s, port);
    client_dials("localhost", s, port);
    if (have_v6()) {
        client_dials("::1", s, port);
        client_dials("[::1]", s, port);
        client_dials("::1%1", s, port); /* (glibc takes a zone name only on a link-local address) */
    }
    tcphub_client *c = NULL;
    CHECK_RC(tcphub_client_connect("", port, TCPHUB_FRAMING_LINES, 0, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_client_connect("[::1]:1", port, TCPHUB_FRAMING_LINES, 0, &c),
             TCPHUB_ERR_INVALID_ARG);
    CHECK(c == NULL);
    /* Digits and dots that are no IPv4 address: the resolver read
     * "127.0.0.010" as 127.0.0.8 (octal), which send_to refuses. */
    const char *numeric[] = {"127.0.0.010", "127.000.000.001", "127.1", "0x7f.0.0.1", "2130706433"};
    for (size_t i = 0; i < sizeof numeric / sizeof *numeric; i++) {
        int rc = tcphub_client_connect(numeric[i], port, TCPHUB_FRAMING_LINES, 0, &c);
        if (rc != TCPHUB_ERR_INVALID_ARG || strstr(tcphub_last_error(), "no IPv4 address") == NULL) {
            char peer[TCPHUB_IP_LEN] = "";
            uint16_t pp = 0;
            if (rc == TCPHUB_OK) (void)tcphub_client_peer_addr(c, peer, &pp);
            fprintf(stderr, "%s: rc %d, peer %s: %s\n", numeric[i], rc, peer, tcphub_last_error());
            exit(1);
        }
    }
    /* A zone naming no interface fails in the resolver, asking no name
     * server; the error named "fe80::1%nosuchif0:8001", which reads as an
     * address whose last group is 8001. */
    const char *zoned[] = {"[fe80::1%nosuchif0]", "fe80::1%nosuchif0"};
    for (size_t i = 0; i < sizeof zoned / sizeof *zoned; i++) {
        CHECK_RC(tcphub_client_connect(zoned[i], 8001, TCPHUB_FRAMING_LINES, 0, &c),
                 TCPHUB_ERR_CONNECT);
        if (strstr(tcphub_last_error(), "resolve") != NULL &&
            strstr(tcphub_last_error(), "[fe80::1%nosuchif0]:8001") == NULL) {
            fprintf(stderr, "%s: %s\n", zoned[i], tcphub_last_error());
            exit(1);
        }
    }
    tcphub_server_free(s);
    TEST_PASS("client: dialled addresses report as listed; an unresolved IPv6 host is [host]:port");
}

int main(void) {
    sends_spellings();
    per_ip_alike();
    client_names();
    return 0;
}
