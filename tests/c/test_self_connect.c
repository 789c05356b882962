/* A client dialling a port of this host that nobody listens on must be
 * refused, never connected to itself. Linux picks a connect's source port
 * by walking its ephemeral range without looking at the destination port;
 * when it picks the very port dialled, TCP's simultaneous open connects
 * the socket to itself (local address == peer address). Each attempt has
 * about one chance in the range's size: ~11,000 refused connects to an
 * even port of the range (connects take the even ones) found it in 1-2 s.
 * A client connected to itself reads back what it sends, and holds the
 * port, so the server cannot come back on it.
 *
 * The test dials one such port up to ATTEMPTS times or for LIMIT_MS (less
 * under valgrind: the bound is on time, and fewer attempts can only find
 * less). A connect that succeeds to another address is another process's
 * new listener on the port (it was free when picked): the test picks
 * another port. Only a connection to itself fails it. */
#include "test_util.h"

#define ATTEMPTS 60000
#define LIMIT_MS 12000

/* An even port of the ephemeral range that nothing holds now (it may be
 * taken by anyone once released: see above). */
static uint16_t free_even_port(void) {
    unsigned lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%u %u", &lo, &hi) != 2) lo = 32768, hi = 60999;
        fclose(f);
    }
    for (;;) {
        uint16_t port = (uint16_t)((lo + (unsigned)rand() % (hi - lo)) & ~1u);
        if (port < lo) continue;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(fd >= 0);
        struct sockaddr_in addr;
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
        close(fd);
        if (ok) return port;
    }
}

int main(void) {
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    uint16_t port = free_even_port();
    int64_t deadline = now_ms() + LIMIT_MS;
    int attempts = 0, refused = 0, others = 0;
    while (attempts < ATTEMPTS && now_ms() < deadline) {
        tcphub_client *c = NULL;
        int rc = tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_RAW, 0, &c);
        attempts++;
        if (rc == TCPHUB_ERR_CONNECT) {
            CHECK(tcphub_last_errno() == ECONNREFUSED);
            refused++;
            continue;
        }
        CHECK_OK(rc);
        char local[TCPHUB_IP_LEN], peer[TCPHUB_IP_LEN];
        uint16_t local_port = 0, peer_port = 0;
        CHECK_OK(tcphub_client_local_addr(c, local, &local_port));
        CHECK_OK(tcphub_client_peer_addr(c, peer, &peer_port));
        if (local_port == peer_port && strcmp(local, peer) == 0) {
            fprintf(stderr, "CHECK failed: attempt %d connected to itself (%s:%u)\n", attempts,
                    local, (unsigned)local_port);
            tcphub_client_free(c);
            return 1;
        }
        tcphub_client_free(c); /* someone else listens there now */
        others++;
        port = free_even_port();
    }
    printf("%d attempts (%d refused, %d to another process's new listener), none connected to "
           "itself\n",
           attempts, refused, others);
    TEST_PASS("a client dialling a port nobody listens on is refused, never connected to itself");
    return 0;
}
