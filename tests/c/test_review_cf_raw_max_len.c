/* Review cf (configuration consistency): a frame limit given with RAW
 * framing, which has no frames, is refused (TCPHUB_ERR_INVALID_ARG, the
 * message naming it) rather than silently ignored — as Python refuses
 * `max_len` with framing="raw" (InvalidConfig), and as the Rust core has no
 * place for it (`Framing::Raw` carries no limit). 0, "the framing's
 * default", stays good for every framing. For the server setter and the
 * client options alike. */
#include "test_util.h"

int main(void) {
    tcphub_server *s = tcphub_server_new(0, 4);
    CHECK(s != NULL);
    CHECK_OK(tcphub_server_set_bind_ip(s, "127.0.0.1"));
    CHECK_OK(tcphub_server_set_threads(s, 1));
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_LINES, 100));

    /* Refused, and the earlier framing (lines, 100) kept. */
    CHECK_RC(tcphub_server_set_framing(s, TCPHUB_FRAMING_RAW, 100), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "tcphub_server_set_framing") != NULL);
    CHECK(strstr(tcphub_last_error(), "max_len") != NULL);
    CHECK_RC(tcphub_server_set_framing(s, TCPHUB_FRAMING_RAW, SIZE_MAX), TCPHUB_ERR_INVALID_ARG);
    CHECK_OK(tcphub_server_set_framing(s, TCPHUB_FRAMING_RAW, 0));
    CHECK_OK(tcphub_server_start(s));
    uint16_t port = tcphub_server_port(s);

    tcphub_client_options o;
    tcphub_client *c = NULL;
    tcphub_client_options_init(&o);
    o.framing = TCPHUB_FRAMING_RAW;
    o.max_len = 4096;
    CHECK_RC(tcphub_client_connect_with("127.0.0.1", port, &o, &c), TCPHUB_ERR_INVALID_ARG);
    CHECK(c == NULL);
    CHECK(strstr(tcphub_last_error(), "max_len") != NULL);
    o.max_len = 0;
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", port, &o, &c));
    CHECK(c != NULL);
    tcphub_client_free(c);

    CHECK_OK(tcphub_server_stop(s));
    tcphub_server_free(s);
    TEST_PASS("a max_len with RAW framing is refused, server and client alike");
    return 0;
}
