/* The client's outbound queue against a server that does not read (a plain
 * listening socket with a small receive buffer): tcphub_client_queued_bytes
 * grows, tcphub_client_close_timeout returns TIMEOUT while the flush cannot
 * finish and OK once the server reads everything; tcphub_client_is_open
 * before and after; tcphub_client_unacknowledged_bytes counts what the kernel
 * took and the server did not. */
#include "test_util.h"

#define CHUNK (1 << 20)
/* Beyond this much kernel send buffer the test skips rather than queue
 * gigabytes. */
#define MAX_KERNEL_BUF (512u << 20)

/* The most a client socket's send buffer may hold: the largest field of
 * net.ipv4.tcp_wmem (the initial size and the ceiling autotuning grows it
 * to; 4 MiB by default). 4 MiB, the default, if it cannot be read. */
static unsigned long long tcp_wmem_max(void) {
    unsigned long long most = 4u << 20;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
    if (f == NULL) {
        printf("# /proc/sys/net/ipv4/tcp_wmem unreadable: assuming 4 MiB\n");
        return most;
    }
    unsigned long long v[3];
    if (fscanf(f, "%llu %llu %llu", &v[0], &v[1], &v[2]) == 3) {
        most = 0;
        for (int i = 0; i < 3; i++) {
            if (v[i] > most) most = v[i];
        }
    }
    fclose(f);
    return most;
}

/* How many chunks the client sends: in all, more than twice what the
 * kernel buffers between the two can hold (the server's receive buffer is
 * 4 KiB — 1 MiB allowed for it and what is in flight — the client's send
 * buffer at most `wmem`), at least 16 MiB. So the flush cannot finish
 * before the server reads, and less than half of it fits in the kernel's
 * buffers (which "queued_bytes grows" relies on). */
static int chunks_for(size_t wmem) {
    size_t half = wmem / CHUNK + 2; /* chunks: > wmem + 1 MiB */
    if (half < 8) half = 8;
    return (int)(2 * half);
}

/* A raw client with room in its queue for `chunks` chunks and a linger
 * time far beyond any wait here, connected to a fresh server that does not
 * read; returns the server's end of the connection. */
static int stalled_pair(tcphub_client **c, int chunks) {
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    o.max_queue_bytes = ((size_t)chunks + 1) * CHUNK; /* + 48 bytes a message */
    o.linger_ms = 600000;
    return connect_stalled(&o, c);
}

int main(void) {
    CHECK_RC(tcphub_client_close_timeout(NULL, 10), TCPHUB_ERR_NULL);
    CHECK(!tcphub_client_is_open(NULL));
    CHECK(tcphub_client_queued_bytes(NULL) == 0);
    CHECK(tcphub_client_unacknowledged_bytes(NULL) == -1);
    TEST_PASS("NULL client");

    unsigned long long wmem = tcp_wmem_max();
    if (wmem > MAX_KERNEL_BUF) {
        printf("ok - SKIPPED: net.ipv4.tcp_wmem allows %llu MiB of send buffer\n", wmem >> 20);
        return 0;
    }
    const int chunks = chunks_for((size_t)wmem);
    printf("# tcp_wmem at most %llu KiB: sending %d MiB\n", wmem >> 10, chunks);

    tcphub_client *c = NULL;
    int fd = stalled_pair(&c, chunks);
    uint8_t *chunk = calloc(CHUNK, 1);
    CHECK(chunk != NULL);
    CHECK(tcphub_client_is_open(c));
    CHECK(tcphub_client_queued_bytes(c) == 0);
    CHECK(tcphub_client_unacknowledged_bytes(c) == 0); /* nothing written yet */
    for (int i = 0; i < chunks / 2; i++) CHECK_OK(tcphub_client_send(c, chunk, CHUNK));
    size_t q1 = tcphub_client_queued_bytes(c);
    CHECK(q1 > 0 && q1 <= (size_t)chunks / 2 * CHUNK);
    for (int i = 0; i < chunks / 2; i++) CHECK_OK(tcphub_client_send(c, chunk, CHUNK));
    /* Less than half of it fits in the kernel's buffers: what the second
     * half added cannot all have been written meanwhile. */
    size_t q2 = tcphub_client_queued_bytes(c);
    CHECK(q2 > q1 && q2 <= (size_t)chunks * CHUNK);
    TEST_PASS("queued_bytes grows while the server does not read");
    /* What the kernel took is not acknowledged by a server that does not
     * read (all but its 4 KiB window). */
    WAIT_UNTIL(tcphub_client_unacknowledged_bytes(c) > 0);
    TEST_PASS("unacknowledged_bytes while the server does not read");

    CHECK_RC(tcphub_client_close_timeout(c, 50), TCPHUB_ERR_TIMEOUT);
    CHECK(strstr(tcphub_last_error(), "tcphub_client_close_timeout") != NULL);
    CHECK(strstr(tcphub_last_error(), "still closing") != NULL);
    CHECK_RC(tcphub_client_send(c, chunk, 1), TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(tcphub_client_close_timeout(c, 0), TCPHUB_ERR_TIMEOUT);
    CHECK(!tcphub_client_is_open(c)); /* closing */
    CHECK(tcphub_client_queued_bytes(c) > 0); /* and still flushing */
    TEST_PASS("close_timeout: TIMEOUT while the server does not read");

    struct drain d = {fd, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, drain_thread, &d) == 0);
    CHECK_OK(tcphub_client_close_timeout(c, WAIT_MS));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(d.bytes == (size_t)chunks * CHUNK); /* raw framing: the bytes as sent */
    int reason = -1;
    CHECK_OK(tcphub_client_disconnect_reason(c, &reason));
    CHECK(reason == TCPHUB_REASON_CLOSED_LOCALLY);
    CHECK(!tcphub_client_is_open(c));
    CHECK(tcphub_client_queued_bytes(c) == 0);
    CHECK(tcphub_client_unacknowledged_bytes(c) == -1); /* no connection */
    CHECK_OK(tcphub_client_close_timeout(c, 0)); /* closed stays closed */
    CHECK_OK(tcphub_client_close(c));
    tcphub_client_free(c);
    close(fd);
    TEST_PASS("close_timeout: OK once the server has read everything");

    /* A client that half-closed stays open until its server closes; then
     * it has ended, and close_timeout has nothing to wait for. */
    tcphub_client *gone = NULL;
    fd = stalled_pair(&gone, 1);
    CHECK_OK(tcphub_client_shutdown_write(gone));
    CHECK(tcphub_client_is_open(gone));
    close(fd);
    tcphub_message m = {0};
    CHECK_RC(tcphub_client_recv(gone, &m, WAIT_MS), TCPHUB_ERR_NOT_RUNNING);
    WAIT_UNTIL(!tcphub_client_is_open(gone));
    CHECK_OK(tcphub_client_close_timeout(gone, WAIT_MS));
    tcphub_client_free(gone);
    TEST_PASS("is_open after shutdown_write until the server closes; close_timeout OK then");

    free(chunk);
    return 0;
}
