/* Review (ct): tcphub_server_pause_client / _disconnect from the main
 * thread, callbacks on three loops: nothing a client sends after the call
 * returned is handed to on_message (a paused client's line only after the
 * resume, a kicked client's never), while other clients keep the loops
 * reading and a thread pauses and resumes an idle client in a tight loop. */
#include "test_util.h"

#include <pthread.h>

#define TARGETS 6
#define OTHERS 6
#define ROUNDS 50

static tcphub_server *server;
/* Per connection, by the id's low bits (ids are small here). */
static atomic_long allowed[4096]; /* round a target may be handed; -1 none */
static atomic_long got[4096];     /* next round expected */
static atomic_int kicked[4096];
static atomic_int ended[4096];
static atomic_int others_seen;
static atomic_int errors;
static atomic_ullong last_connected;
static atomic_int stop_hammer;
static atomic_ullong idle_id;
static int idle_fd;

static void on_connect(void *ud, uint64_t id, const char *ip, uint16_t port) {
    (void)ud, (void)ip, (void)port;
    atomic_store(&last_connected, id);
}

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)ud;
    CHECK(id < 4096);
    char line[64];
    CHECK(len < sizeof line);
    memcpy(line, data, len);
    line[len] = 0;
    if (atomic_load(&kicked[id])) {
        fprintf(stderr, "kicked %llu: %s handed out\n", (unsigned long long)id, line);
        atomic_fetch_add(&errors, 1);
    }
    if (line[0] == 't') {
        long r = atol(line + 1);
        if (atomic_load(&allowed[id]) < r) {
            fprintf(stderr, "target %llu: round %ld while paused\n", (unsigned long long)id, r);
            atomic_fetch_add(&errors, 1);
        }
        if (atomic_load(&got[id]) != r) {
            fprintf(stderr, "target %llu: round %ld out of order\n", (unsigned long long)id, r);
            atomic_fetch_add(&errors, 1);
        }
        atomic_store(&got[id], r + 1);
    } else if (line[0] == 'o') {
        atomic_fetch_add(&others_seen, 1);
    }
}

static void on_disconnect(void *ud, uint64_t id, int reason) {
    (void)ud;
    CHECK(id < 4096);
    atomic_store(&ended[id], reason + 1);
}

static void *hammer(void *arg) {
    (void)arg;
    uint64_t id = atomic_load(&idle_id);
    for (unsigned n = 1; !atomic_load(&stop_hammer); n++) {
        CHECK_OK(tcphub_server_pause_client(server, id));
        CHECK_OK(tcphub_server_resume_client(server, id));
        /* Bounded ahead of the loop (pauses are not counted against its
         * backlog bound): a line sent to the idle client comes back once
         * the loop has applied the toggles before it. */
        if (n % 256 == 0) {
            CHECK_OK(tcphub_server_send(server, id, (const uint8_t *)"s", 1));
            EXPECT_LINE(idle_fd, "s");
        }
    }
    return NULL;
}

static uint64_t connect_one(int *fd) {
    uint64_t before = atomic_load(&last_connected);
    *fd = connect_to(tcphub_server_port(server));
    WAIT_UNTIL(atomic_load(&last_connected) != before);
    return atomic_load(&last_connected);
}

int main(void) {
    server = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(server, 3));
    CHECK_OK(tcphub_server_on_connect(server, on_connect, NULL));
    CHECK_OK(tcphub_server_on_message(server, on_message, NULL));
    CHECK_OK(tcphub_server_on_disconnect(server, on_disconnect, NULL));
    CHECK_OK(tcphub_server_start(server));
    for (int i = 0; i < 4096; i++)
        atomic_store(&allowed[i], -1);

    atomic_store(&idle_id, connect_one(&idle_fd));
    pthread_t h;
    CHECK(pthread_create(&h, NULL, hammer, NULL) == 0);

    int tfd[TARGETS], ofd[OTHERS];
    uint64_t tid[TARGETS];
    for (int i = 0; i < TARGETS; i++)
        tid[i] = connect_one(&tfd[i]);
    for (int i = 0; i < OTHERS; i++)
        connect_one(&ofd[i]);

    char buf[64];
    for (long r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < TARGETS; i++) {
            CHECK_OK(tcphub_server_pause_client(server, tid[i]));
            snprintf(buf, sizeof buf, "t%ld\n", r);
            write_str(tfd[i], buf);
        }
        /* The loops read on (the others' lines go through each loop). */
        int seen = atomic_load(&others_seen);
        for (int i = 0; i < OTHERS; i++)
            write_str(ofd[i], "o\n");
        WAIT_UNTIL(atomic_load(&others_seen) == seen + OTHERS);
        for (int i = 0; i < TARGETS; i++) {
            atomic_store(&allowed[tid[i]], r);
            CHECK_OK(tcphub_server_resume_client(server, tid[i]));
        }
        for (int i = 0; i < TARGETS; i++)
            WAIT_UNTIL(atomic_load(&got[tid[i]]) == r + 1);

        int kfd;
        uint64_t kid = connect_one(&kfd);
        atomic_store(&kicked[kid], 1);
        CHECK_OK(tcphub_server_disconnect(server, kid));
        (void)!write(kfd, "k\n", 2);
        WAIT_UNTIL(atomic_load(&ended[kid]) != 0);
        CHECK(atomic_load(&ended[kid]) == TCPHUB_REASON_KICKED + 1);
        close(kfd);
        CHECK(atomic_load(&errors) == 0);
    }
    atomic_store(&stop_hammer, 1);
    pthread_join(h, NULL);
    for (int i = 0; i < TARGETS; i++)
        close(tfd[i]);
    for (int i = 0; i < OTHERS; i++)
        close(ofd[i]);
    close(idle_fd);
    tcphub_server_stop(server);
    tcphub_server_free(server);
    CHECK(atomic_load(&errors) == 0);
    TEST_PASS("nothing sent after pause_client/disconnect returned is handed to on_message (3 loops)");
    return 0;
}
