/* tcphub_server_set_max_clients_per_ip: one address may have that many
 * clients at a time; a connection past it gets the per-address notice,
 * then EOF, and counts in tcphub_stats.rejected_per_ip; another address is
 * not affected; the place comes back when a client of the address leaves. */
#include "test_util.h"

int main(void) {
    static const char note[] = "too many connections from your address";
    CHECK_RC(tcphub_server_set_max_clients_per_ip(NULL, 1), TCPHUB_ERR_NULL);
    CHECK_RC(tcphub_server_set_per_ip_full_message(NULL, NULL, 0), TCPHUB_ERR_NULL);
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_RC(tcphub_server_set_per_ip_full_message(s, NULL, 3), TCPHUB_ERR_NULL);
    CHECK_OK(tcphub_server_set_per_ip_full_message(s, (const uint8_t *)"two\nlines", 9));
    CHECK_RC(tcphub_server_start(s), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "per_ip_full_message: ") != NULL);
    CHECK_OK(tcphub_server_set_max_clients_per_ip(s, 1));
    CHECK_OK(tcphub_server_set_per_ip_full_message(s, (const uint8_t *)note, strlen(note)));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_set_max_clients_per_ip(s, 2), TCPHUB_ERR_ALREADY_RUNNING);
    TEST_PASS("setters: NULL, a notice the framing cannot carry, a running server");

    int first = connect_to(tcphub_server_port(s));
    uint64_t id = expect_connected(s);
    int other = connect_from_with_rcvbuf(INADDR_LOOPBACK + 1, tcphub_server_port(s), 0);
    expect_connected(s);
    int refused = connect_to(tcphub_server_port(s));
    EXPECT_LINE(refused, note);
    expect_eof(refused);
    close(refused);
    tcphub_stats st;
    CHECK_OK(tcphub_server_stats(s, &st));
    CHECK(st.rejected_per_ip == 1 && st.rejected == 0 && st.clients == 2);
    TEST_PASS("a second connection from one address is refused with its notice");

    /* Its place comes back once the connection is closed: in pull mode a
     * client that half-closed is held for replies until the next call for
     * events, and its EOF says the server closed it. */
    shutdown(first, SHUT_WR);
    expect_disconnect(s, id, TCPHUB_REASON_CLOSED_BY_PEER);
    tcphub_event ev;
    CHECK_RC(tcphub_server_next_event(s, &ev, 0), TCPHUB_ERR_TIMEOUT);
    expect_eof(first);
    close(first);
    int again = connect_to(tcphub_server_port(s));
    expect_connected(s);
    CHECK_OK(tcphub_server_stats(s, &st));
    CHECK(st.rejected_per_ip == 1 && st.clients == 2);
    close(again);
    close(other);
    tcphub_server_free(s);
    TEST_PASS("its place comes back when the address's client leaves");

    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_set_max_clients_per_ip(s, 1));
    CHECK_OK(tcphub_server_set_max_clients_per_ip(s, 0)); /* removed */
    CHECK_OK(tcphub_server_start(s));
    int a = connect_to(tcphub_server_port(s));
    expect_connected(s);
    int b = connect_to(tcphub_server_port(s));
    expect_connected(s);
    close(a);
    close(b);
    tcphub_server_free(s);
    TEST_PASS("0 removes the limit");

    /* IPv6 clients counted by network: the setter's bounds; an IPv4
     * address still counts whole (127.0.0.2 is not 127.0.0.1's network). */
    CHECK_RC(tcphub_server_set_per_ip_ipv6_prefix(NULL, 64), TCPHUB_ERR_NULL);
    s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_RC(tcphub_server_set_per_ip_ipv6_prefix(s, 0), TCPHUB_ERR_INVALID_ARG);
    CHECK(strstr(tcphub_last_error(), "per_ip_ipv6_prefix must be 1 to 128, not 0") != NULL);
    CHECK_RC(tcphub_server_set_per_ip_ipv6_prefix(s, 129), TCPHUB_ERR_INVALID_ARG);
    CHECK_RC(tcphub_server_set_per_ip_ipv6_prefix(s, 256 + 64), TCPHUB_ERR_INVALID_ARG);
    CHECK_OK(tcphub_server_set_per_ip_ipv6_prefix(s, 64));
    CHECK_OK(tcphub_server_set_max_clients_per_ip(s, 1));
    CHECK_OK(tcphub_server_start(s));
    CHECK_RC(tcphub_server_set_per_ip_ipv6_prefix(s, 48), TCPHUB_ERR_ALREADY_RUNNING);
    a = connect_to(tcphub_server_port(s));
    expect_connected(s);
    b = connect_from_with_rcvbuf(INADDR_LOOPBACK + 1, tcphub_server_port(s), 0);
    expect_connected(s);
    int c = connect_to(tcphub_server_port(s));
    expect_eof(c);
    CHECK_OK(tcphub_server_stats(s, &st));
    CHECK(st.rejected_per_ip == 1 && st.clients == 2);
    close(a);
    close(b);
    close(c);
    tcphub_server_free(s);
    TEST_PASS("per_ip_ipv6_prefix: its bounds; IPv4 addresses still count whole");
    return 0;
}
