/* The host and port arguments of tcphub_client_connect and
 * tcphub_client_connect_with: an empty host, a NULL host, port 0 and a
 * host with a port in it are argument errors that say what is wrong (not
 * "cannot resolve :1" or "connection refused", which read as if the
 * server were unreachable), and *client_out is NULL after each. */
#include "test_util.h"

typedef struct {
    const char *host; /* NULL: a NULL host */
    int port;         /* -1: the port of a running server */
    int rc;
    const char *says; /* in tcphub_last_error() */
} connect_case;

static const connect_case CASES[] = {
    {"", -1, TCPHUB_ERR_INVALID_ARG, "the host is empty"},
    {"", 0, TCPHUB_ERR_INVALID_ARG, "the host is empty"},
    {NULL, -1, TCPHUB_ERR_NULL, "host is NULL"},
    {"127.0.0.1", 0, TCPHUB_ERR_INVALID_ARG, "127.0.0.1:0: port 0 is no server's port"},
    {"localhost", 0, TCPHUB_ERR_INVALID_ARG, "port 0 is no server's port"},
    /* The port written into the host too, as in "127.0.0.1:8001": the
     * lookup of "127.0.0.1:8001:8001" failed with "cannot resolve", which
     * hid the mistake. */
    {"127.0.0.1:8001", -1, TCPHUB_ERR_INVALID_ARG,
     "the host \"127.0.0.1:8001\" includes a port: pass the host alone (\"127.0.0.1\")"},
    {"[::1]:8001", -1, TCPHUB_ERR_INVALID_ARG, "pass the host alone (\"::1\")"},
    {"localhost:8001", -1, TCPHUB_ERR_INVALID_ARG, "pass the host alone (\"localhost\")"},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static void expect(const char *func, const connect_case *k, int rc, const tcphub_client *c) {
    const char *err = tcphub_last_error();
    if (rc != k->rc || c != NULL || strstr(err, func) == NULL || strstr(err, k->says) == NULL ||
        strstr(err, "resolve") != NULL || strstr(err, "refused") != NULL) {
        fprintf(stderr,
                "%s(%s%s%s, %d): returned %d (%s), client %s; expected %d (%s) saying \"%s\"\n"
                "  tcphub_last_error: %s\n",
                func, k->host ? "\"" : "", k->host ? k->host : "NULL", k->host ? "\"" : "",
                k->port, rc, tcphub_strerror(rc), c ? "set" : "NULL", k->rc,
                tcphub_strerror(k->rc), k->says, err);
        exit(1);
    }
}

int main(void) {
    tcphub_server *s = new_local_server(TCPHUB_FRAMING_LINES);
    CHECK_OK(tcphub_server_start(s));
    uint16_t live = tcphub_server_port(s);
    tcphub_client_options o;
    tcphub_client_options_init(&o);
    for (size_t i = 0; i < NCASES; i++) {
        const connect_case *k = &CASES[i];
        uint16_t port = k->port < 0 ? live : (uint16_t)k->port;
        tcphub_client *c = (tcphub_client *)&o; /* must be overwritten */
        int rc = tcphub_client_connect(k->host, port, TCPHUB_FRAMING_LINES, 0, &c);
        expect("tcphub_client_connect", k, rc, c);
        c = (tcphub_client *)&o;
        rc = tcphub_client_connect_with(k->host, port, &o, &c);
        expect("tcphub_client_connect_with", k, rc, c);
    }
    TEST_PASS("empty host, NULL host, port 0, host:port: argument errors that say so");

    /* The same server is reachable with a host and its port. */
    tcphub_client *c = NULL;
    CHECK_OK(tcphub_client_connect("127.0.0.1", live, TCPHUB_FRAMING_LINES, 0, &c));
    tcphub_client_free(c);
    CHECK_OK(tcphub_client_connect_with("127.0.0.1", live, &o, &c));
    tcphub_client_free(c);
    tcphub_server_free(s);
    TEST_PASS("a host and a port connect");
    return 0;
}
