/* Out-of-range sizes from C are errors, never aborts: a thread count such
 * as (size_t)-1 (a negative int converted) or one too large to allocate
 * bookkeeping for. */
#include "test_util.h"

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    const size_t absurd[] = {(size_t)-1, (size_t)1 << 40, 4097};
    for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
        CHECK_OK(tcphub_server_set_threads(s, absurd[i]));
        CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_INVALID_ARG);
        CHECK(strstr(tcphub_last_error(), "threads") != NULL);
        CHECK(!tcphub_server_is_running(s));
    }
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_start(s));
    tcphub_server_free(s);
    TEST_PASS("absurd thread counts: TCPHUB_ERR_INVALID_ARG");
    return 0;
}
