/* A start that fails part way (an event-loop thread cannot be created: the
 * process is out of threads or memory) returns its error, even when a
 * callback of a loop already started is waiting for the server's lock.
 *
 * tcphub_server_start holds the server's lock while the core starts the
 * loops; a failed spawn made the core stop and join the loops started so
 * far, under that lock. Loop 0, spawned first, already served: its
 * on_connect, calling tcphub_server_is_running (which takes the lock),
 * waited for the start, which waited for loop 0: a deadlock (found by
 * reading the nested locks helgrind saw, review "hg").
 *
 * The failure is made by this program's own pthread_create, which the
 * library's calls reach (the executable's definition comes first): the
 * second loop thread of the start is refused with EAGAIN, after a client
 * has connected to the listener and (if a loop serves it) on_connect has
 * begun. */
#define _GNU_SOURCE
#include "test_util.h"

#include <dirent.h>
#include <stdbool.h>
#include <dlfcn.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static atomic_int armed;        /* the starting thread is in tcphub_server_start */
static atomic_int spawns;       /* threads that thread asked for meanwhile */
static atomic_int connect_seen; /* on_connect has begun */
static atomic_int connect_done; /* ... and returned */
static pthread_t starter;
static tcphub_server *server;
static int client_fd = -1;

/* The port of this process's listening IPv4 socket (the server's). */
static uint16_t listening_port(void) {
    for (int fd = 0; fd < 1024; fd++) {
        int on = 0;
        socklen_t len = sizeof on;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on) continue;
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        if (getsockname(fd, (struct sockaddr *)&a, &alen) == 0 && a.sin_family == AF_INET)
            return ntohs(a.sin_port);
    }
    return 0;
}

/* Whether this process's first event-loop thread is loop 0, which owns the
 * listener: waits (bounded) for a thread named "tcphub-io-N" (the name is
 * set by the new thread itself, just after it starts). */
static bool first_loop_serves_the_listener(void) {
    int64_t deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline) {
        DIR *tasks = opendir("/proc/self/task");
        CHECK(tasks != NULL);
        struct dirent *e;
        int found = -1;
        while (found < 0 && (e = readdir(tasks)) != NULL) {
            char path[300], comm[32] = "";
            snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
            FILE *f = fopen(path, "r");
            if (f == NULL) continue;
            if (fgets(comm, sizeof comm, f) != NULL && strncmp(comm, "tcphub-io-", 10) == 0)
                found = strcmp(comm, "tcphub-io-0\n") == 0;
            fclose(f);
        }
        closedir(tasks);
        if (found >= 0) return found;
        nap_ms(2);
    }
    fprintf(stderr, "the first event-loop thread never showed its name\n");
    exit(1);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    create_fn real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
    if (atomic_load(&armed) && pthread_equal(pthread_self(), starter) &&
        atomic_fetch_add(&spawns, 1) == 1) {
        /* The second loop: a client comes first; if the loop already
         * started serves the listener, its on_connect begins (up to 5 s for
         * it). Since the listener's loop is started last, it does not, and
         * nobody will accept the client: no wait. */
        uint16_t port = listening_port();
        CHECK(port != 0);
        client_fd = connect_to(port);
        if (first_loop_serves_the_listener()) {
            int64_t deadline = now_ms() + 5000;
            while (!atomic_load(&connect_seen) && now_ms() < deadline)
                nap_ms(2);
        }
        return EAGAIN;
    }
    return real(t, attr, fn, arg);
}

static void on_connect(void *ud, uint64_t id, const char *ip, uint16_t port) {
    (void)ud, (void)id, (void)ip, (void)port;
    atomic_store(&connect_seen, 1);
    (void)tcphub_server_is_running(server); /* takes the server's lock */
    atomic_store(&connect_done, 1);
}

static atomic_int start_rc = -1000;
static atomic_int start_returned;

static void *start_thread(void *arg) {
    (void)arg;
    starter = pthread_self();
    atomic_store(&armed, 1);
    int rc = tcphub_server_start(server);
    atomic_store(&armed, 0);
    atomic_store(&start_rc, rc);
    atomic_store(&start_returned, 1);
    return NULL;
}

int main(void) {
    server = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_threads(server, 2));
    CHECK_OK(tcphub_server_on_connect(server, on_connect, NULL));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, start_thread, NULL) == 0);
    /* A deadlock never returns: the start is given WAIT_MS. */
    int64_t deadline = now_ms() + WAIT_MS;
    while (!atomic_load(&start_returned) && now_ms() < deadline)
        nap_ms(5);
    if (!atomic_load(&start_returned)) {
        fprintf(stderr, "timed out waiting for tcphub_server_start to return (on_connect %s)\n",
                atomic_load(&connect_seen) ? "waits for the server's lock" : "never ran");
        exit(1);
    }
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(atomic_load(&spawns) >= 2);
    CHECK(atomic_load(&start_rc) != TCPHUB_OK);
    CHECK(!tcphub_server_is_running(server));
    /* Any callback that began has ended, and the client is closed. */
    CHECK(atomic_load(&connect_done) == atomic_load(&connect_seen));
    if (client_fd >= 0) {
        expect_eof(client_fd);
        close(client_fd);
    }
    tcphub_server_free(server);
    TEST_PASS("a start whose second loop cannot be spawned returns its error, a callback of "
              "the first waiting for the server's lock or not");
    return 0;
}
