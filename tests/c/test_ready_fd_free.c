/* A server freed while another thread arms its readiness descriptor: the
 * descriptor may outlive the server ("before or after the server"), and
 * tcphub_server_free still releases the server itself — the userdata
 * destructor has run, on the freeing thread, when it returns, not later
 * inside a tcphub_ready_fd_arm on the arming thread. Set TCPHUB_CYCLES to
 * change the number of rounds (default 100). */
#include "test_util.h"

static pthread_t main_thread;
static atomic_int freed, freed_elsewhere;
static atomic_bool stop_arming;

static void destroy(void *ud) {
    (void)ud;
    if (!pthread_equal(pthread_self(), main_thread)) atomic_fetch_add(&freed_elsewhere, 1);
    atomic_fetch_add(&freed, 1);
}

static void *arm_until_told(void *arg) {
    tcphub_ready_fd *r = arg;
    while (!atomic_load(&stop_arming)) {
        int rc = tcphub_ready_fd_arm(r);
        CHECK(rc == 0 || rc == 1);
    }
    return NULL;
}

int main(void) {
    const char *env = getenv("TCPHUB_CYCLES");
    int rounds = env ? atoi(env) : 100;
    CHECK(rounds > 0);
    static int ud;
    main_thread = pthread_self();
    for (int i = 0; i < rounds; i++) {
        atomic_store(&freed, 0);
        tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
        CHECK_OK(tcphub_server_set_threads(s, 1));
        CHECK_OK(tcphub_server_set_linger(s, 0));
        CHECK_OK(tcphub_server_set_userdata_free(s, destroy));
        CHECK_OK(tcphub_server_on_connect(s, NULL, &ud)); /* registered; still pull mode */
        CHECK_OK(tcphub_server_start(s));
        tcphub_ready_fd *r = NULL;
        CHECK_OK(tcphub_server_ready_fd(s, &r));
        atomic_store(&stop_arming, false);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, arm_until_told, r) == 0);
        nap_ms(1);
        tcphub_server_free(s);
        int at_return = atomic_load(&freed);
        atomic_store(&stop_arming, true);
        CHECK(pthread_join(t, NULL) == 0);
        CHECK(tcphub_ready_fd_arm(r) == 0); /* outlives its server: take, the end */
        tcphub_ready_fd_free(r);
        if (at_return != 1)
            fprintf(stderr, "round %d: the destructor had run %d times when free returned\n", i,
                    at_return);
        CHECK(at_return == 1);
        CHECK(atomic_load(&freed) == 1);
    }
    CHECK(atomic_load(&freed_elsewhere) == 0);
    TEST_PASS("freed while armed elsewhere: the destructor runs in tcphub_server_free");
    return 0;
}
