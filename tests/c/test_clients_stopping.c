/* Who is connected while a stop is flushing: tcphub_server_clients,
 * tcphub_server_client_info and tcphub_server_client_count agree with each
 * other (and with the core and Python) until the clients are gone. */
#include "test_util.h"

#define BIG (16u << 20) /* far more than the socket buffers hold */

static void *stop_thread(void *arg) {
    /* Waits for the flush: up to the linger time, or until the peer goes. */
    CHECK_OK(tcphub_server_stop(arg));
    return NULL;
}

static size_t listed(const tcphub_server *s) {
    size_t n = 12345;
    CHECK_OK(tcphub_server_clients(s, NULL, 0, &n));
    return n;
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_RAW);
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_set_linger(s, 60000));
    CHECK_OK(tcphub_server_start(s));

    /* A client that does not read, with a small receive buffer. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    int small = 4096;
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(tcphub_server_port(s));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    WAIT_UNTIL(tcphub_server_client_count(s) == 1);
    tcphub_client_info info;
    size_t n = 0;
    CHECK_OK(tcphub_server_clients(s, &info, 1, &n));
    CHECK(n == 1);
    uint64_t id = info.client_id;

    uint8_t *big = calloc(BIG, 1);
    CHECK(big != NULL);
    CHECK_OK(tcphub_server_send(s, id, big, BIG));
    free(big);

    pthread_t t;
    CHECK(pthread_create(&t, NULL, stop_thread, s) == 0);
    WAIT_UNTIL(!tcphub_server_is_running(s));
    /* Stopping, still flushing to the client: it is still connected. */
    CHECK(tcphub_server_client_count(s) == 1);
    CHECK(listed(s) == 1);
    tcphub_client_info one;
    CHECK_OK(tcphub_server_client_info(s, id, &one));
    CHECK(one.client_id == id && one.port == local_port(fd));
    TEST_PASS("while a stop flushes: listed, counted and found alike");

    close(fd); /* unread data: a reset ends the flush at once */
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(tcphub_server_client_count(s) == 0);
    CHECK(listed(s) == 0);
    CHECK_RC(tcphub_server_client_info(s, id, &one), TCPHUB_ERR_NO_SUCH_CLIENT);
    TEST_PASS("once stopped: none");
    tcphub_server_free(s);
    return 0;
}
