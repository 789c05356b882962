/* The order in which every server setter reports what is wrong: a NULL
 * server first, then a running server, then a bad argument. A bad argument
 * to a running server is TCPHUB_ERR_ALREADY_RUNNING, as a good one is; the
 * same bad argument to a stopped server is its own error. Table-driven:
 * one row per setter (and per kind of bad argument). */
#include "test_util.h"

static void noop_free(void *userdata) { (void)userdata; }

/* A good argument for each setter: a configuration that starts (127.0.0.1,
 * port 0, pull mode, one thread). */
static int good_bind_ip(tcphub_server *s) { return tcphub_server_set_bind_ip(s, "127.0.0.1"); }
static int good_framing(tcphub_server *s) {
    return tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 0);
}
static int good_idle(tcphub_server *s) { return tcphub_server_set_idle_timeout(s, 0); }
static int good_frame_timeout(tcphub_server *s) { return tcphub_server_set_frame_timeout(s, 0); }
static int good_busy_poll(tcphub_server *s) { return tcphub_server_set_busy_poll(s, 5); }
static int good_max_queue(tcphub_server *s) { return tcphub_server_set_max_queue_bytes(s, 0); }
static int good_threads(tcphub_server *s) { return tcphub_server_set_threads(s, 1); }
static int good_on_connect(tcphub_server *s) { return tcphub_server_on_connect(s, NULL, NULL); }
static int good_on_message(tcphub_server *s) { return tcphub_server_on_message(s, NULL, NULL); }
static int good_on_disconnect(tcphub_server *s) {
    return tcphub_server_on_disconnect(s, NULL, NULL);
}
static int good_overflow(tcphub_server *s) {
    return tcphub_server_set_overflow(s, TCPHUB_OVERFLOW_DISCONNECT);
}
static int good_linger(tcphub_server *s) { return tcphub_server_set_linger(s, 100); }
static int good_keepalive(tcphub_server *s) { return tcphub_server_set_keepalive(s, 0); }
static int good_nodelay(tcphub_server *s) { return tcphub_server_set_nodelay(s, true); }
static int good_backlog(tcphub_server *s) { return tcphub_server_set_backlog(s, 16); }
static int good_event_capacity(tcphub_server *s) {
    return tcphub_server_set_event_capacity(s, 0);
}
static int good_full_message(tcphub_server *s) {
    return tcphub_server_set_full_message(s, NULL, 0);
}
static int good_idle_message(tcphub_server *s) {
    return tcphub_server_set_idle_timeout_message(s, NULL, 0);
}
static int good_frame_timeout_message(tcphub_server *s) {
    return tcphub_server_set_frame_timeout_message(s, NULL, 0);
}
static int good_max_clients_per_ip(tcphub_server *s) {
    return tcphub_server_set_max_clients_per_ip(s, 4);
}
static int good_per_ip_full_message(tcphub_server *s) {
    return tcphub_server_set_per_ip_full_message(s, NULL, 0);
}
static int good_frame_too_large_message(tcphub_server *s) {
    return tcphub_server_set_frame_too_large_message(s, NULL, 0);
}

/* Bad arguments, for the setters that can have one. */
static int null_bind_ip(tcphub_server *s) { return tcphub_server_set_bind_ip(s, NULL); }
static int bad_bind_ip(tcphub_server *s) { return tcphub_server_set_bind_ip(s, "not an ip"); }
static int bad_framing(tcphub_server *s) { return tcphub_server_set_framing(s, 99, 0); }
static int bad_overflow(tcphub_server *s) { return tcphub_server_set_overflow(s, 2); }
static int bad_backlog(tcphub_server *s) { return tcphub_server_set_backlog(s, 0); }
static int null_full_message(tcphub_server *s) {
    return tcphub_server_set_full_message(s, NULL, 3);
}
static int null_idle_message(tcphub_server *s) {
    return tcphub_server_set_idle_timeout_message(s, NULL, 3);
}
static int null_frame_timeout_message(tcphub_server *s) {
    return tcphub_server_set_frame_timeout_message(s, NULL, 3);
}
static int null_per_ip_full_message(tcphub_server *s) {
    return tcphub_server_set_per_ip_full_message(s, NULL, 3);
}
static int null_frame_too_large_message(tcphub_server *s) {
    return tcphub_server_set_frame_too_large_message(s, NULL, 3);
}

typedef struct {
    const char *name;              /* the function, as tcphub_last_error() names it */
    int (*good)(tcphub_server *s); /* a good argument */
    int (*bad)(tcphub_server *s);  /* a bad argument, or NULL when there is none */
    int bad_rc;                    /* what the bad argument gets from a stopped server */
} setter_case;

static const setter_case CASES[] = {
    {"tcphub_server_set_bind_ip", good_bind_ip, null_bind_ip, TCPHUB_ERR_NULL},
    {"tcphub_server_set_bind_ip", good_bind_ip, bad_bind_ip, TCPHUB_ERR_INVALID_ARG},
    {"tcphub_server_set_framing", good_framing, bad_framing, TCPHUB_ERR_INVALID_ARG},
    {"tcphub_server_set_idle_timeout", good_idle, NULL, 0},
    {"tcphub_server_set_frame_timeout", good_frame_timeout, NULL, 0},
    {"tcphub_server_set_busy_poll", good_busy_poll, NULL, 0},
    {"tcphub_server_set_max_queue_bytes", good_max_queue, NULL, 0},
    {"tcphub_server_set_threads", good_threads, NULL, 0},
    {"tcphub_server_on_connect", good_on_connect, NULL, 0},
    {"tcphub_server_on_message", good_on_message, NULL, 0},
    {"tcphub_server_on_disconnect", good_on_disconnect, NULL, 0},
    {"tcphub_server_set_overflow", good_overflow, bad_overflow, TCPHUB_ERR_INVALID_ARG},
    {"tcphub_server_set_linger", good_linger, NULL, 0},
    {"tcphub_server_set_keepalive", good_keepalive, NULL, 0},
    {"tcphub_server_set_nodelay", good_nodelay, NULL, 0},
    {"tcphub_server_set_backlog", good_backlog, bad_backlog, TCPHUB_ERR_INVALID_ARG},
    {"tcphub_server_set_event_capacity", good_event_capacity, NULL, 0},
    {"tcphub_server_set_full_message", good_full_message, null_full_message, TCPHUB_ERR_NULL},
    {"tcphub_server_set_idle_timeout_message", good_idle_message, null_idle_message,
     TCPHUB_ERR_NULL},
    {"tcphub_server_set_frame_timeout_message", good_frame_timeout_message,
     null_frame_timeout_message, TCPHUB_ERR_NULL},
    {"tcphub_server_set_max_clients_per_ip", good_max_clients_per_ip, NULL, 0},
    {"tcphub_server_set_per_ip_full_message", good_per_ip_full_message,
     null_per_ip_full_message, TCPHUB_ERR_NULL},
    {"tcphub_server_set_frame_too_large_message", good_frame_too_large_message,
     null_frame_too_large_message, TCPHUB_ERR_NULL},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

/* Checks that `rc` is `want` and that tcphub_last_error() names the setter
 * and contains `text`; on a mismatch says which row failed. */
static void expect(const setter_case *c, const char *what, int rc, int want, const char *text) {
    const char *err = tcphub_last_error();
    if (rc != want || strstr(err, c->name) == NULL || strstr(err, text) == NULL) {
        fprintf(stderr,
                "%s, %s: returned %d (%s), expected %d (%s) with \"%s\"\n"
                "  tcphub_last_error: %s\n",
                c->name, what, rc, tcphub_strerror(rc), want, tcphub_strerror(want), text, err);
        exit(1);
    }
}

/* Every bad argument to a stopped server gets its own error and changes nothing. */
static void bad_arguments_get_their_own_errors(tcphub_server *s) {
    for (size_t i = 0; i < NCASES; i++) {
        const setter_case *c = &CASES[i];
        if (c->bad == NULL) continue;
        int rc = c->bad(s);
        if (rc != c->bad_rc) {
            fprintf(stderr, "%s, bad argument, stopped server: returned %d (%s), expected %d (%s)\n",
                    c->name, rc, tcphub_strerror(rc), c->bad_rc, tcphub_strerror(c->bad_rc));
            exit(1);
        }
    }
}

int main(void) {
    /* 1. A NULL server comes first, whatever the argument. */
    for (size_t i = 0; i < NCASES; i++) {
        const setter_case *c = &CASES[i];
        expect(c, "NULL server, good argument", c->good(NULL), TCPHUB_ERR_NULL, "server is NULL");
        if (c->bad != NULL) {
            expect(c, "NULL server, bad argument", c->bad(NULL), TCPHUB_ERR_NULL,
                   "server is NULL");
        }
    }
    TEST_PASS("a NULL server is reported first by every setter");

    /* 2. Never started: bad arguments are reported as such, good ones taken. */
    tcphub_server *s = tcphub_server_new(0, 8);
    CHECK(s != NULL);
    bad_arguments_get_their_own_errors(s);
    for (size_t i = 0; i < NCASES; i++) CHECK_OK(CASES[i].good(s));
    TEST_PASS("a server never started: each bad argument gets its own error");

    /* 3. Running: every setter says so first, for a good and a bad argument. */
    CHECK_OK(tcphub_server_start(s));
    for (size_t i = 0; i < NCASES; i++) {
        const setter_case *c = &CASES[i];
        expect(c, "running server, good argument", c->good(s), TCPHUB_ERR_ALREADY_RUNNING,
               "running");
        if (c->bad != NULL) {
            expect(c, "running server, bad argument", c->bad(s), TCPHUB_ERR_ALREADY_RUNNING,
                   "running");
        }
    }
    /* The userdata destructor is no setting of the run: any time is fine. */
    CHECK_OK(tcphub_server_set_userdata_free(s, noop_free));
    TEST_PASS("a running server: ALREADY_RUNNING before any argument check, in every setter");

    /* 4. Stopped again: configurable, and the bad arguments are theirs again. */
    CHECK_OK(tcphub_server_stop(s));
    bad_arguments_get_their_own_errors(s);
    for (size_t i = 0; i < NCASES; i++) CHECK_OK(CASES[i].good(s));
    CHECK_OK(tcphub_server_start(s));
    CHECK(tcphub_server_is_running(s));
    tcphub_server_free(s);
    TEST_PASS("a stopped server: configurable again, bad arguments reported as such");
    return 0;
}
