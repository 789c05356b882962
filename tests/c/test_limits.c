/* Out-of-range sizes from C are errors, never aborts: a thread count such
 * as (size_t)-1 (a negative int converted) or one too large to allocate
 * bookkeeping for; a message length no object can have (a failed read()'s
 * -1 passed on as size_t). */
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
    TEST_PASS("absurd thread counts: TCPHUB_ERR_INVALID_ARG");

    const uint8_t buf[8] = "hello";
    const ssize_t failed_read = -1;
    const size_t huge[] = {(size_t)failed_read, (size_t)PTRDIFF_MAX + 1};
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", tcphub_server_port(s), TCPHUB_FRAMING_LINES, 0, &c));
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        CHECK_RC(tcphub_server_send_all(s, buf, huge[i], NULL), TCPHUB_ERR_INVALID_ARG);
        CHECK(strstr(tcphub_last_error(), "len") != NULL);
        CHECK_RC(tcphub_server_send(s, 1, buf, huge[i]), TCPHUB_ERR_INVALID_ARG);
        CHECK_RC(tcphub_server_send_to(s, "127.0.0.1", 1, buf, huge[i]), TCPHUB_ERR_INVALID_ARG);
        CHECK_RC(tcphub_client_send(c, buf, huge[i]), TCPHUB_ERR_INVALID_ARG);
    }
    tcphub_client_free(c);
    tcphub_server_free(s);
    TEST_PASS("impossible message lengths: TCPHUB_ERR_INVALID_ARG");
    return 0;
}
