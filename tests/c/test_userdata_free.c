/* The userdata destructor (tcphub_server_set_userdata_free) runs once for
 * each distinct non-NULL userdata registered by a successful
 * tcphub_server_on_* call — a NULL callback included — and never for one
 * whose call failed (running server, NULL server): that one stays the
 * caller's. */
#include "test_util.h"

static int freed[4];

static void destroy(void *ud) { freed[*(int *)ud]++; }

static void on_message(void *ud, uint64_t id, const uint8_t *data, size_t len) {
    (void)ud;
    (void)id;
    (void)data;
    (void)len;
}

int main(void) {
    static int a = 0, b = 1, c = 2, d = 3;
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_userdata_free(s, destroy));
    CHECK_OK(tcphub_server_on_message(s, on_message, &a));
    CHECK_OK(tcphub_server_on_connect(s, NULL, &b)); /* no callback, but registered */
    CHECK_OK(tcphub_server_on_disconnect(s, NULL, &a)); /* the same one again */
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_on_message(s, on_message, &c), TCPHUB_ERR_ALREADY_RUNNING);
    CHECK_RC(tcphub_server_on_message(NULL, on_message, &d), TCPHUB_ERR_NULL);
    tcphub_server_free(s);
    CHECK(freed[0] == 1);
    CHECK(freed[1] == 1);
    CHECK(freed[2] == 0);
    CHECK(freed[3] == 0);
    TEST_PASS("the destructor runs once per registered userdata, not for a failed call's");
    return 0;
}
