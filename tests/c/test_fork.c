/* fork() while a server (callback mode and pull mode) and a client run: in
 * the child, whose copy has none of their I/O threads, every handle acts as
 * stopped/closed — nothing waits for the parent's threads, not even a
 * receive without a time limit — and freeing them there neither hangs nor
 * disturbs the parent, whose server and client go on serving. */
#include "test_util.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

static void echo(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)tcphub_server_send((tcphub_server *)ud, id, data, len);
}

/* The userdata destructor of both servers: counts its calls. */
static int userdata_freed;
static void count_free(void *ud) {
    (void)ud;
    userdata_freed++;
}

/* The child's verdict goes through a pipe, and the child ends by exec'ing
 * /bin/true: no exit work at all in the parent's copy (its atexit handlers,
 * valgrind's leak report on the parent's threads, which the child lacks). */
static int verdict_fd = -1;

static void child_end(int ok) {
    if (ok) {
        char k = 'k';
        (void)!write(verdict_fd, &k, 1);
    }
    execl("/bin/true", "true", (char *)NULL);
    _exit(1); /* no /bin/true: exit work skipped all the same */
}

/* A failed check in the child: say which, and end it without a verdict. */
#define KID_CHECK(cond)                                                             \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: child: CHECK failed: %s\n  tcphub_last_error: %s\n", \
                    __FILE__, __LINE__, #cond, tcphub_last_error());                \
            child_end(0);                                                           \
        }                                                                           \
    } while (0)
#define KID_RC(expr, want)                                                          \
    do {                                                                            \
        int rc_ = (expr);                                                           \
        if (rc_ != (want)) {                                                        \
            fprintf(stderr, "%s:%d: child: %s returned %d (%s), expected %d (%s)\n" \
                            "  tcphub_last_error: %s\n",                            \
                    __FILE__, __LINE__, #expr, rc_, tcphub_strerror(rc_), (want),   \
                    tcphub_strerror(want), tcphub_last_error());                    \
            child_end(0);                                                           \
        }                                                                           \
    } while (0)

/* Runs `child` in a forked child and checks that it passed within WAIT_MS
 * (a child stuck waiting for the parent's threads is killed: the test fails). */
static void in_child(void (*child)(void *), void *arg) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        verdict_fd = fds[1];
        child(arg);
        child_end(1);
    }
    close(fds[1]);
    int status = 0;
    int64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        CHECK(r >= 0);
        if (r == pid) break;
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "the forked child hung (it waited for the parent's threads)\n");
            exit(1);
        }
        nap_ms(5);
    }
    char verdict = 0;
    CHECK(read(fds[0], &verdict, 1) == 1 && verdict == 'k');
    close(fds[0]);
}

struct handles {
    tcphub_server *echo; /* callback mode, lines */
    tcphub_server *pull; /* pull mode, lines */
    tcphub_client *to_echo, *to_pull;
};

/* Receiving in the child: nothing will ever come (the I/O threads are the
 * parent's), so every wait ends at once with NOT_RUNNING, with a time limit
 * or without one, and the output is zeroed. */
static void child_receives(void *arg) {
    struct handles *h = arg;
    tcphub_message m = {(uint8_t *)1, 1};
    KID_RC(tcphub_client_recv(h->to_echo, &m, -1), TCPHUB_ERR_NOT_RUNNING);
    KID_CHECK(m.data == NULL && m.len == 0);
    KID_RC(tcphub_client_recv(h->to_echo, &m, 50), TCPHUB_ERR_NOT_RUNNING);
    KID_RC(tcphub_client_recv(h->to_pull, &m, 0), TCPHUB_ERR_NOT_RUNNING);
    tcphub_client_event ce;
    KID_RC(tcphub_client_next_event(h->to_echo, &ce, -1), TCPHUB_ERR_NOT_RUNNING);
    KID_CHECK(ce.kind == TCPHUB_CLIENT_EVENT_NONE);
    KID_RC(tcphub_client_next_event(h->to_pull, &ce, 50), TCPHUB_ERR_NOT_RUNNING);
    tcphub_event ev;
    KID_RC(tcphub_server_next_event(h->pull, &ev, -1), TCPHUB_ERR_NOT_RUNNING);
    KID_CHECK(ev.kind == TCPHUB_EVENT_NONE && ev.data == NULL);
    KID_RC(tcphub_server_next_event(h->pull, &ev, 50), TCPHUB_ERR_NOT_RUNNING);
    KID_RC(tcphub_server_next_event(h->pull, &ev, 0), TCPHUB_ERR_NOT_RUNNING);
}

/* The rest of the API in the child: stopped servers, closed clients. */
static void child_uses_the_rest(void *arg) {
    struct handles *h = arg;
    tcphub_server *both[2] = {h->echo, h->pull};
    for (int i = 0; i < 2; i++) {
        tcphub_server *s = both[i];
        KID_CHECK(!tcphub_server_is_running(s));
        /* A stopped server has no clients: none counted, listed or found. */
        KID_CHECK(tcphub_server_client_count(s) == 0);
        tcphub_client_info info[4];
        size_t n = 99;
        KID_RC(tcphub_server_clients(s, info, 4, &n), TCPHUB_OK);
        KID_CHECK(n == 0);
        KID_RC(tcphub_server_client_info(s, 1, info), TCPHUB_ERR_NO_SUCH_CLIENT);
        tcphub_stats st;
        KID_RC(tcphub_server_stats(s, &st), TCPHUB_OK);
        KID_CHECK(st.clients == 0);
        KID_RC(tcphub_server_send(s, 1, (const uint8_t *)"x", 1), TCPHUB_ERR_NOT_RUNNING);
        KID_RC(tcphub_server_send_all(s, (const uint8_t *)"x", 1, &n), TCPHUB_ERR_NOT_RUNNING);
        KID_RC(tcphub_server_disconnect(s, 1), TCPHUB_ERR_NOT_RUNNING);
        KID_RC(tcphub_server_stop_timeout(s, 1000), TCPHUB_OK);
        KID_RC(tcphub_server_wait(s, -1), TCPHUB_OK);
        KID_RC(tcphub_server_stop(s), TCPHUB_OK);
    }
    tcphub_client *clients[2] = {h->to_echo, h->to_pull};
    for (int i = 0; i < 2; i++) {
        tcphub_client *c = clients[i];
        KID_CHECK(!tcphub_client_is_open(c) && !tcphub_client_is_connected(c));
        KID_RC(tcphub_client_send(c, (const uint8_t *)"x", 1), TCPHUB_ERR_NOT_RUNNING);
        KID_CHECK(tcphub_client_queued_bytes(c) == 0);
        KID_RC(tcphub_client_close_timeout(c, 1000), TCPHUB_OK);
        KID_RC(tcphub_client_close(c), TCPHUB_OK);
    }
    tcphub_client_free(h->to_echo);
    tcphub_client_free(h->to_pull);
    tcphub_server_free(h->echo);
    tcphub_server_free(h->pull);
    /* The runs are the parent's, which still uses their userdata. */
    KID_CHECK(userdata_freed == 0);
}

/* The parent's server and client still echo; the pull server still serves. */
static void parent_still_serves(struct handles *h, const char *line) {
    size_t len = strlen(line);
    CHECK_OK(tcphub_client_send(h->to_echo, (const uint8_t *)line, len));
    tcphub_message m;
    CHECK_OK(tcphub_client_recv(h->to_echo, &m, WAIT_MS));
    CHECK(m.len == len && memcmp(m.data, line, len) == 0);
    tcphub_message_release(&m);
    CHECK_OK(tcphub_client_send(h->to_pull, (const uint8_t *)line, len));
    tcphub_event ev;
    CHECK_OK(tcphub_server_next_event(h->pull, &ev, WAIT_MS));
    CHECK(ev.kind == TCPHUB_EVENT_MESSAGE && ev.len == len && memcmp(ev.data, line, len) == 0);
    uint64_t id = ev.client_id;
    tcphub_event_release(&ev);
    CHECK_OK(tcphub_server_send(h->pull, id, (const uint8_t *)line, len));
    CHECK_OK(tcphub_client_recv(h->to_pull, &m, WAIT_MS));
    CHECK(m.len == len && memcmp(m.data, line, len) == 0);
    tcphub_message_release(&m);
    CHECK(tcphub_server_client_count(h->echo) == 1 && tcphub_server_client_count(h->pull) == 1);
}

/* How many forks each race below gets: TCPHUB_FORKS, default 50 (the old
 * code failed nearly every run of 50); 0 skips the races. Under valgrind,
 * which runs one thread at a time and hands its lock unfairly, the busy
 * threads starve the forking one for minutes: scripts/test-c.sh skips them
 * there (the sanitizer build runs them). */
static int forks(void) {
    const char *s = getenv("TCPHUB_FORKS");
    int n = s ? atoi(s) : 50;
    return n >= 0 ? n : 50;
}

/* A server another thread keeps asking about (each question takes the
 * server's lock for a moment): a fork may copy that lock held by a thread
 * the child does not have. */
static tcphub_server *busy;
static atomic_int stop_asking;

static void *keep_asking(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_asking)) {
        (void)tcphub_server_client_count(busy);
        (void)tcphub_server_is_running(busy);
    }
    return NULL;
}

/* In the child: the busy server acts stopped and is freed at once. */
static void child_frees_busy(void *arg) {
    (void)arg;
    KID_CHECK(!tcphub_server_is_running(busy));
    KID_CHECK(tcphub_server_client_count(busy) == 0);
    KID_RC(tcphub_server_send_all(busy, (const uint8_t *)"x", 1, NULL), TCPHUB_ERR_NOT_RUNNING);
    tcphub_event ev;
    KID_RC(tcphub_server_next_event(busy, &ev, -1), TCPHUB_ERR_NOT_RUNNING);
    KID_RC(tcphub_server_begin_stop(busy), TCPHUB_OK);
    KID_RC(tcphub_server_stop_timeout(busy, 1000), TCPHUB_OK);
    KID_RC(tcphub_server_wait(busy, -1), TCPHUB_OK);
    KID_RC(tcphub_server_stop(busy), TCPHUB_OK);
    tcphub_server_free(busy);
}

/* A client that one thread sends on while another closes it: a fork may
 * copy its send gate held (or awaited) by a thread the child lacks. */
static tcphub_client *busy_client;

static void *keep_sending(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_asking)) (void)tcphub_client_send(busy_client, (const uint8_t *)"x", 1);
    return NULL;
}

static void *keep_closing(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_asking)) (void)tcphub_client_close(busy_client);
    return NULL;
}

/* In the child: a send fails at once, and free returns at once. */
static void child_frees_busy_client(void *arg) {
    (void)arg;
    KID_RC(tcphub_client_send(busy_client, (const uint8_t *)"x", 1), TCPHUB_ERR_NOT_RUNNING);
    KID_CHECK(!tcphub_client_is_open(busy_client));
    tcphub_client_free(busy_client);
}

/* A thread keeps asking a client its addresses and why it ended. */
static void *keep_querying(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_asking)) {
        int reason;
        (void)tcphub_client_local_port(busy_client);
        (void)tcphub_client_disconnect_reason(busy_client, &reason);
    }
    return NULL;
}

/* In the child: the client's queries answer at once. */
static void child_queries_busy_client(void *arg) {
    (void)arg;
    char ip[TCPHUB_IP_LEN];
    uint16_t port = 0;
    KID_RC(tcphub_client_peer_addr(busy_client, ip, &port), TCPHUB_OK);
    KID_CHECK(strcmp(ip, "127.0.0.1") == 0 && port != 0);
    KID_RC(tcphub_client_local_addr(busy_client, ip, &port), TCPHUB_OK);
    int reason = 99;
    KID_RC(tcphub_client_disconnect_reason(busy_client, &reason), TCPHUB_OK);
    KID_CHECK(reason == -1);
    tcphub_client_free(busy_client);
}

int main(void) {
    struct handles h;
    h.echo = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_on_message(h.echo, echo, h.echo));
    CHECK_OK(tcphub_server_set_userdata_free(h.echo, count_free));
    CHECK_OK(tcphub_server_start(h.echo));
    h.pull = new_local_server(TCPHUB_FRAMING_LINES);
    /* Pull mode (no callback) with a userdata all the same. */
    static int pull_userdata;
    CHECK_OK(tcphub_server_on_connect(h.pull, NULL, &pull_userdata));
    CHECK_OK(tcphub_server_set_userdata_free(h.pull, count_free));
    CHECK_OK(tcphub_server_start(h.pull));
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(h.echo), TCPHUB_FRAMING_LINES,
                                   0, &h.to_echo));
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(h.pull), TCPHUB_FRAMING_LINES,
                                   0, &h.to_pull));
    (void)expect_connected(h.pull);
    WAIT_UNTIL(tcphub_server_client_count(h.echo) == 1);
    parent_still_serves(&h, "before");

    in_child(child_receives, &h);
    parent_still_serves(&h, "after a child received");
    TEST_PASS("in a forked child, receiving waits for nothing: NOT_RUNNING at once");

    in_child(child_uses_the_rest, &h);
    parent_still_serves(&h, "after a child freed everything");
    TEST_PASS("in a forked child the handles act stopped/closed and free at once");

    if (forks() == 0) {
        printf("ok - # SKIP forks beside busy threads (TCPHUB_FORKS=0)\n");
    } else {
        /* Forks while another thread uses a server: whatever that thread held
         * at the fork, the child's calls return at once. */
        busy = new_local_server(TCPHUB_FRAMING_LINES);
        CHECK_OK(tcphub_server_start(busy));
        pthread_t asker;
        CHECK(pthread_create(&asker, NULL, keep_asking, NULL) == 0);
        for (int i = 0; i < forks(); i++) in_child(child_frees_busy, NULL);
        atomic_store(&stop_asking, 1);
        CHECK(pthread_join(asker, NULL) == 0);
        CHECK(tcphub_server_is_running(busy));
        tcphub_server_free(busy);
        TEST_PASS("a fork while another thread uses a server: the child's calls return at once");

        CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(h.echo), TCPHUB_FRAMING_LINES,
                                       0, &busy_client));
        atomic_store(&stop_asking, 0);
        pthread_t sender, closer;
        CHECK(pthread_create(&sender, NULL, keep_sending, NULL) == 0);
        CHECK(pthread_create(&closer, NULL, keep_closing, NULL) == 0);
        for (int i = 0; i < forks(); i++) in_child(child_frees_busy_client, NULL);
        atomic_store(&stop_asking, 1);
        CHECK(pthread_join(sender, NULL) == 0);
        CHECK(pthread_join(closer, NULL) == 0);
        tcphub_client_free(busy_client);
        TEST_PASS("a fork while other threads send on and close a client: the child's send fails at once");

        CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(h.echo), TCPHUB_FRAMING_LINES,
                                       0, &busy_client));
        atomic_store(&stop_asking, 0);
        pthread_t queriers[2];
        for (int i = 0; i < 2; i++) CHECK(pthread_create(&queriers[i], NULL, keep_querying, NULL) == 0);
        for (int i = 0; i < forks(); i++) in_child(child_queries_busy_client, NULL);
        atomic_store(&stop_asking, 1);
        for (int i = 0; i < 2; i++) CHECK(pthread_join(queriers[i], NULL) == 0);
        tcphub_client_free(busy_client);
        TEST_PASS("a fork while other threads ask a client its addresses: the child's queries answer");
    }

    tcphub_client_free(h.to_echo);
    tcphub_client_free(h.to_pull);
    tcphub_server_free(h.echo);
    tcphub_server_free(h.pull);
    CHECK(userdata_freed == 2);
    TEST_PASS("the userdata destructors run in the parent only");
    return 0;
}
