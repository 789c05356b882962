/* tcphub_set_log_callback: the engine's own log lines reach a C function,
 * at the level asked and not below it, on the library's thread; setting
 * none stops them for good; the callback may not set the callback; bad
 * levels are refused. */
#include "test_util.h"

#define MAX_LINES 256

typedef struct {
    pthread_mutex_t lock;
    int count;
    int levels[MAX_LINES];
    char lines[MAX_LINES][256];
    char targets[MAX_LINES][96];
    int nested_rc; /* what setting the callback from inside it returned */
    int tried_nested;
    pthread_t main_thread;
    int on_main; /* calls made on the thread that set the callback */
} log_sink;

static void on_log(void *userdata, int level, const char *target, const char *message) {
    log_sink *sink = userdata;
    if (!sink->tried_nested) {
        sink->tried_nested = 1;
        sink->nested_rc = tcphub_set_log_callback(NULL, TCPHUB_LOG_OFF, NULL);
    }
    pthread_mutex_lock(&sink->lock);
    if (pthread_equal(pthread_self(), sink->main_thread))
        sink->on_main++;
    if (sink->count < MAX_LINES) {
        sink->levels[sink->count] = level;
        snprintf(sink->lines[sink->count], sizeof sink->lines[0], "%s", message);
        snprintf(sink->targets[sink->count], sizeof sink->targets[0], "%s", target);
    }
    sink->count++;
    pthread_mutex_unlock(&sink->lock);
}

/* Index of the first line from `from` on containing `needle` at `level`, or -1. */
static int find_line(log_sink *sink, int from, int level, const char *needle) {
    int found = -1;
    pthread_mutex_lock(&sink->lock);
    int n = sink->count < MAX_LINES ? sink->count : MAX_LINES;
    for (int i = from; i < n && found < 0; i++)
        if (sink->levels[i] == level && strstr(sink->lines[i], needle))
            found = i;
    pthread_mutex_unlock(&sink->lock);
    return found;
}

static int line_count(log_sink *sink) {
    pthread_mutex_lock(&sink->lock);
    int n = sink->count;
    pthread_mutex_unlock(&sink->lock);
    return n;
}

/* A started pull-mode server on 127.0.0.1 with room for one client. */
static tcphub_server *one_client_server(void) {
    tcphub_server *s = tcphub_server_new(0, 1);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    CHECK_OK(tcphub_server_start(s));
    return s;
}

/* A connection the server refuses (it is full): returns once the server
 * has closed it, so the refusal, and its log line if any, are behind. */
static void refused(uint16_t port, char *want, size_t cap) {
    int fd = connect_to(port);
    snprintf(want, cap, "refusing 127.0.0.1:%u: the server is full", (unsigned)local_port(fd));
    char c;
    int64_t deadline = now_ms() + WAIT_MS;
    int r;
    while ((r = read_byte(fd, &c, deadline)) > 0) {
    }
    CHECK(r == 0); /* closed (a notice before it, if any, skipped) */
    close(fd);
}

/* A full server (one_client_server with its one client, whose descriptor
 * goes to *client) that has just refused a connection: `want` gets the
 * refusal's log line (see refused). */
static tcphub_server *full_server_refusing(int *client, char *want, size_t cap) {
    tcphub_server *s = one_client_server();
    *client = connect_to(tcphub_server_port(s));
    (void)expect_connected(s);
    refused(tcphub_server_port(s), want, cap);
    return s;
}

int main(void) {
    static log_sink sink;
    pthread_mutex_init(&sink.lock, NULL);
    sink.main_thread = pthread_self();
    char want[96];

    /* Levels outside TCPHUB_LOG_OFF..TCPHUB_LOG_TRACE are refused. */
    CHECK_RC(tcphub_set_log_callback(on_log, 6, &sink), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "level 6") != NULL);
    CHECK_RC(tcphub_set_log_callback(on_log, -1, &sink), TCPHUB_ERR_INVALID_ARG);
    /* None set: setting none again is fine. */
    CHECK_OK(tcphub_set_log_callback(NULL, TCPHUB_LOG_OFF, NULL));

    CHECK_OK(tcphub_set_log_callback(on_log, TCPHUB_LOG_DEBUG, &sink));

    /* Debug: a client's arrival, naming its address. */
    tcphub_server *one = one_client_server();
    int a = connect_to(tcphub_server_port(one));
    uint64_t a_id = expect_connected(one);
    snprintf(want, sizeof want, "127.0.0.1:%u connected", (unsigned)local_port(a));
    WAIT_UNTIL(find_line(&sink, 0, TCPHUB_LOG_DEBUG, want) >= 0);
    int at = find_line(&sink, 0, TCPHUB_LOG_DEBUG, want);
    CHECK(strncmp(sink.targets[at], "tcphub", 6) == 0);
    /* The first call tried to set the callback from inside it: refused, not a hang. */
    CHECK(sink.tried_nested);
    CHECK(sink.nested_rc == TCPHUB_ERR_INVALID_ARG);

    /* Info: a connection refused at a full server, from the accept code. */
    refused(tcphub_server_port(one), want, sizeof want);
    WAIT_UNTIL(find_line(&sink, 0, TCPHUB_LOG_INFO, want) >= 0);
    at = find_line(&sink, 0, TCPHUB_LOG_INFO, want);
    CHECK(strstr(sink.targets[at], "accept") != NULL);

    /* At warnings, then info, a client's end and arrival (debug) are not
     * passed on. The lines go through one queue in order: once the info
     * line below has come, any line before it has too. */
    CHECK_OK(tcphub_set_log_callback(on_log, TCPHUB_LOG_WARN, &sink));
    int mark = line_count(&sink);
    close(a);
    expect_disconnect(one, a_id, TCPHUB_REASON_CLOSED_BY_PEER);
    CHECK_OK(tcphub_set_log_callback(on_log, TCPHUB_LOG_INFO, &sink));
    int c;
    tcphub_server *two = full_server_refusing(&c, want, sizeof want);
    WAIT_UNTIL(find_line(&sink, mark, TCPHUB_LOG_INFO, want) >= 0);
    CHECK(find_line(&sink, mark, TCPHUB_LOG_DEBUG, "") < 0);

    /* None: no line is made or delivered until a callback is set again.
     * The refusal by `three` while none is set must not show up before
     * the marker refusal by `four` after (one queue, in order). */
    CHECK_OK(tcphub_set_log_callback(NULL, TCPHUB_LOG_OFF, NULL));
    int e;
    char unseen[96];
    tcphub_server *three = full_server_refusing(&e, unseen, sizeof unseen);
    CHECK_OK(tcphub_set_log_callback(on_log, TCPHUB_LOG_INFO, &sink));
    int g;
    tcphub_server *four = full_server_refusing(&g, want, sizeof want);
    WAIT_UNTIL(find_line(&sink, mark, TCPHUB_LOG_INFO, want) >= 0);
    CHECK(find_line(&sink, 0, TCPHUB_LOG_INFO, unseen) < 0);
    CHECK_OK(tcphub_set_log_callback(NULL, TCPHUB_LOG_OFF, NULL));
    /* Every line came on the library's thread. */
    CHECK(sink.on_main == 0);
    int delivered = line_count(&sink);

    close(c);
    close(e);
    close(g);
    tcphub_server *all[] = {one, two, three, four};
    for (int i = 0; i < 4; i++) {
        tcphub_server_stop(all[i]);
        tcphub_server_free(all[i]);
    }
    pthread_mutex_destroy(&sink.lock);
    printf("ok: %d engine log lines delivered\n", delivered);
    return 0;
}
