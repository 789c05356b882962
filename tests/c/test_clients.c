/* tcphub_server_clients / tcphub_server_client_info: who is connected. */
#include "test_util.h"

static size_t count_of(const tcphub_server *s) {
    size_t n = 12345;
    CHECK_OK(tcphub_server_clients(s, NULL, 0, &n));
    return n;
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    tcphub_client_info info[8];
    size_t n = 12345;
    CHECK_OK(tcphub_server_clients(s, info, 8, &n));
    CHECK(n == 0);
    CHECK_RC(tcphub_server_client_info(s, 1, &info[0]), TCPHUB_ERR_NOT_RUNNING);
    CHECK_RC(tcphub_server_clients(NULL, info, 8, &n), TCPHUB_ERR_NULL);
    CHECK(n == 0);
    CHECK_RC(tcphub_server_clients(s, info, 8, NULL), TCPHUB_ERR_NULL);
    n = 12345;
    CHECK_RC(tcphub_server_clients(s, NULL, 1, &n), TCPHUB_ERR_NULL);
    CHECK(n == 0);
    CHECK_RC(tcphub_server_client_info(s, 1, NULL), TCPHUB_ERR_NULL);
    TEST_PASS("before start: no clients; NULL arguments");

    CHECK_OK(tcphub_server_set_threads(s, 2));
    CHECK_OK(tcphub_server_start(s));
    int fd[3];
    for (int i = 0; i < 3; i++) fd[i] = connect_to(tcphub_server_port(s));
    WAIT_UNTIL(count_of(s) == 3);

    /* Cut short: two written, three reported. */
    memset(info, 0, sizeof info);
    CHECK_OK(tcphub_server_clients(s, info, 2, &n));
    CHECK(n == 3 && info[0].client_id != 0 && info[1].client_id != 0 && info[2].client_id == 0);

    CHECK_OK(tcphub_server_clients(s, info, 8, &n));
    CHECK(n == 3);
    for (int i = 0; i < 3; i++) {
        /* Each socket's local port is one client's remote port. */
        int found = -1;
        for (int k = 0; k < 3; k++)
            if (info[k].port == local_port(fd[i])) found = k;
        CHECK(found >= 0);
        CHECK(strcmp(info[found].ip, "127.0.0.1") == 0);
        tcphub_client_info one;
        CHECK_OK(tcphub_server_client_info(s, info[found].client_id, &one));
        CHECK(one.client_id == info[found].client_id && one.port == info[found].port);
        CHECK(strcmp(one.ip, "127.0.0.1") == 0);
    }
    CHECK(info[0].client_id != info[1].client_id && info[1].client_id != info[2].client_id &&
          info[0].client_id != info[2].client_id);
    TEST_PASS("three clients: ids, ip and port, one by one and all at once");

    tcphub_client_info gone;
    memset(&gone, 0xff, sizeof gone);
    CHECK_RC(tcphub_server_client_info(s, 999999, &gone), TCPHUB_ERR_NO_SUCH_CLIENT);
    CHECK(gone.client_id == 0 && gone.port == 0 && gone.ip[0] == 0);
    close(fd[1]);
    WAIT_UNTIL(count_of(s) == 2);
    TEST_PASS("an unknown id: NO_SUCH_CLIENT, zeroed; a client that left is gone");

    CHECK_OK(tcphub_server_stop(s));
    CHECK(count_of(s) == 0);
    CHECK_RC(tcphub_server_client_info(s, info[0].client_id, &gone), TCPHUB_ERR_NO_SUCH_CLIENT);
    close(fd[0]);
    close(fd[2]);
    tcphub_server_free(s);
    TEST_PASS("after stop: none");
    return 0;
}
