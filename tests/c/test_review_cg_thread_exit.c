/* Review cg: tcphub called while a thread ends. glibc runs a thread's
 * pthread_key_create destructors after its thread_local (and Rust's
 * thread-local) destructors, and C++ runs a thread_local object made
 * before the thread's first tcphub call after them too: a per-thread
 * context freed there (a worker's connection, say) calls tcphub when
 * tcphub's own thread-locals on that thread are gone. The header makes no
 * exception for it: every call must still work, or fail with a code —
 * never a panic (TCPHUB_ERR_PANIC is "a bug inside tcphub") or a crash. */
#include "test_util.h"

static pthread_key_t key;
static tcphub_server *server;
static uint64_t peer_id;
static atomic_int results[16];
enum {
    R_SERVER_SEND,
    R_CLIENT_SEND,
    R_FAILING,
    R_LAST_ERROR,
    R_SEND_ALL,
    R_SEND_MANY,
    R_SEND_TO,
    R_PAUSE_CLIENT,
    R_RESUME_CLIENT,
    R_PAUSE_INPUT,
    R_RESUME_INPUT,
    R_FLUSH,
    R_RECV,
    R_DONE,
    R_COUNT
};
static const char *const names[R_COUNT] = {
    "tcphub_server_send", "tcphub_client_send", "tcphub_server_send (no such client)",
    "tcphub_last_error", "tcphub_server_send_all", "tcphub_server_send_many",
    "tcphub_server_send_to", "tcphub_server_pause_client", "tcphub_server_resume_client",
    "tcphub_server_pause_input", "tcphub_server_resume_input", "tcphub_client_flush",
    "tcphub_client_recv (a timed wait: a message or a timeout)", "done"};
static const int want[R_COUNT] = {TCPHUB_OK, TCPHUB_OK, TCPHUB_ERR_NO_SUCH_CLIENT, 1, TCPHUB_OK,
                                  TCPHUB_OK, TCPHUB_OK, TCPHUB_OK, TCPHUB_OK, TCPHUB_OK,
                                  TCPHUB_OK, TCPHUB_OK, TCPHUB_OK, 1};
static char peer_ip[TCPHUB_IP_LEN];
static uint16_t peer_port;

typedef struct {
    tcphub_client *client;
} worker_ctx;

/* The pthread-key destructor: runs after the thread's thread-locals. */
static void worker_ctx_free(void *p) {
    worker_ctx *ctx = p;
    const uint8_t *bye = (const uint8_t *)"bye";
    atomic_store(&results[R_SERVER_SEND], tcphub_server_send(server, peer_id, bye, 3));
    atomic_store(&results[R_CLIENT_SEND], tcphub_client_send(ctx->client, bye, 3));
    atomic_store(&results[R_FAILING], tcphub_server_send(server, UINT64_MAX, bye, 3));
    atomic_store(&results[R_LAST_ERROR], tcphub_last_error() != NULL);
    size_t n = 0;
    atomic_store(&results[R_SEND_ALL], tcphub_server_send_all(server, (const uint8_t *)"all", 3, &n));
    atomic_store(&results[R_SEND_MANY],
                 tcphub_server_send_many(server, &peer_id, 1, (const uint8_t *)"many", 4, &n));
    atomic_store(&results[R_SEND_TO],
                 tcphub_server_send_to(server, peer_ip, peer_port, (const uint8_t *)"to", 2));
    atomic_store(&results[R_PAUSE_CLIENT], tcphub_server_pause_client(server, peer_id));
    atomic_store(&results[R_RESUME_CLIENT], tcphub_server_resume_client(server, peer_id));
    atomic_store(&results[R_PAUSE_INPUT], tcphub_server_pause_input(server));
    atomic_store(&results[R_RESUME_INPUT], tcphub_server_resume_input(server));
    atomic_store(&results[R_FLUSH], tcphub_client_flush(ctx->client, WAIT_MS));
    tcphub_message msg;
    int rc = tcphub_client_recv(ctx->client, &msg, 10); /* "all", or nothing yet */
    atomic_store(&results[R_RECV], rc == TCPHUB_ERR_TIMEOUT ? TCPHUB_OK : rc);
    tcphub_message_release(&msg);
    tcphub_client_free(ctx->client);
    free(ctx);
    atomic_store(&results[R_DONE], 1);
}

static void *worker(void *arg) {
    uint16_t port = *(uint16_t *)arg;
    worker_ctx *ctx = calloc(1, sizeof *ctx);
    CHECK(ctx != NULL);
    CHECK_OK(tcphub_client_connect("127.0.0.1", port, TCPHUB_FRAMING_LINES, 0, &ctx->client));
    CHECK(pthread_setspecific(key, ctx) == 0);
    /* This thread's own use of tcphub: sends, one failure. */
    const uint8_t *hi = (const uint8_t *)"hi";
    CHECK_OK(tcphub_client_send(ctx->client, hi, 2));
    CHECK_OK(tcphub_server_send(server, peer_id, hi, 2));
    CHECK_RC(tcphub_server_send(server, UINT64_MAX, hi, 2), TCPHUB_ERR_NO_SUCH_CLIENT);
    CHECK(strlen(tcphub_last_error()) > 0);
    return NULL;
}

int main(void) {
    CHECK(pthread_key_create(&key, worker_ctx_free) == 0);
    server = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(server));
    uint16_t port = tcphub_server_port(server);
    int fd = connect_to(port);
    peer_id = expect_connected(server);
    peer_port = local_port(fd);
    snprintf(peer_ip, sizeof peer_ip, "127.0.0.1");

    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker, &port) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(atomic_load(&results[R_DONE]) == 1);
    int bad = 0;
    for (int i = 0; i < R_COUNT; i++) {
        int got = atomic_load(&results[i]);
        if (got != want[i]) {
            fprintf(stderr, "from the destructor: %s returned %d (%s), expected %d\n", names[i], got,
                    tcphub_strerror(got), want[i]);
            bad = 1;
        }
    }
    CHECK(!bad);
    /* The sends from the destructor arrived, in order, after the thread's. */
    EXPECT_LINE(fd, "hi");
    EXPECT_LINE(fd, "bye");
    EXPECT_LINE(fd, "all");
    EXPECT_LINE(fd, "many");
    EXPECT_LINE(fd, "to");
    TEST_PASS("calls from a pthread-key destructor at thread exit work");

    close(fd);
    CHECK_OK(tcphub_server_stop(server));
    tcphub_server_free(server);
    CHECK(pthread_key_delete(key) == 0);
    return 0;
}
