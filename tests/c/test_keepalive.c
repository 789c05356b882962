/* Keepalive times the kernel cannot take: Linux refuses a TCP_KEEPIDLE over
 * 32767 s. A server asked for 10 hours (36000000 ms) started fine, its
 * accepted sockets silently got the kernel's default idle time (2 hours)
 * instead; a client asked for it failed to connect with TCPHUB_ERR_IO
 * ("setting TCP keepalive: Invalid argument"). Both are argument errors,
 * reported as such; the largest time the kernel takes is applied. */
#include "test_util.h"

#include <netinet/tcp.h>

#define MAX_KEEPALIVE_MS 32767000ULL

/* The TCP_KEEPIDLE (seconds) of this process's socket whose local port is
 * `local` and whose peer's port is `peer`; fails the test when none is. */
static int keepidle_of(uint16_t local, uint16_t peer) {
    for (int fd = 3; fd < 4096; fd++) {
        struct sockaddr_in a, b;
        socklen_t la = sizeof a, lb = sizeof b;
        if (getsockname(fd, (struct sockaddr *)&a, &la) != 0 || a.sin_family != AF_INET) continue;
        if (getpeername(fd, (struct sockaddr *)&b, &lb) != 0) continue;
        if (ntohs(a.sin_port) != local || ntohs(b.sin_port) != peer) continue;
        int on = 0, idle = 0;
        socklen_t l = sizeof on;
        CHECK(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &l) == 0);
        CHECK(on);
        l = sizeof idle;
        CHECK(getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &l) == 0);
        return idle;
    }
    fprintf(stderr, "no socket %u -> %u in this process\n", local, peer);
    exit(1);
}

int main(void) {
    /* Server: over the limit is refused at start, naming the setting. */
    const uint64_t too_long[] = {36000000, MAX_KEEPALIVE_MS + 1, UINT64_MAX};
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    for (size_t i = 0; i < sizeof too_long / sizeof too_long[0]; i++) {
        CHECK_OK(tcphub_server_set_keepalive(s, too_long[i]));
        CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_INVALID_ARG);
        CHECK(strstr(tcphub_last_error(), "keepalive") != NULL);
        CHECK(strstr(tcphub_last_error(), "32767") != NULL);
        CHECK(!tcphub_server_is_running(s));
    }
    /* The limit itself is taken, and is what the accepted socket gets. */
    CHECK_OK(tcphub_server_set_keepalive(s, MAX_KEEPALIVE_MS));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);
    int fd = connect_to(port);
    (void)expect_connected(s);
    CHECK(keepidle_of(port, local_port(fd)) == 32767);
    close(fd);
    TEST_PASS("server: keepalive over 32767 s is INVALID_ARG at start; 32767 s is applied");

    /* Client: the same limit, reported as an argument error (it was
     * TCPHUB_ERR_IO from setsockopt). */
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.framing = TCPHUB_FRAMING_LINES;
    tcphub_client *c = (tcphub_client *)&o;
    for (size_t i = 0; i < sizeof too_long / sizeof too_long[0]; i++) {
        o.keepalive_ms = too_long[i];
        CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &o, &c), TCPHUB_ERR_INVALID_ARG);
        CHECK(c == NULL);
        CHECK(strstr(tcphub_last_error(), "keepalive") != NULL);
        CHECK(strstr(tcphub_last_error(), "32767") != NULL);
    }
    o.keepalive_ms = MAX_KEEPALIVE_MS;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", port, &o, &c));
    CHECK(keepidle_of(tcphub_client_local_port(c), port) == 32767);
    tcphub_client_free(c);
    tcphub_server_free(s);
    TEST_PASS("client: keepalive_ms over 32767 s is INVALID_ARG; 32767 s is applied");
    return 0;
}
