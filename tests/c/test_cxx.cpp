// The header compiles as C++ (extern "C" guards, no C-only constructs) and
// the library links and runs from a C++ program.
#include <cstdio>
#include <cstring>
#include <string>
#include <tcphub.h>

static_assert(TCPHUB_OK == 0, "TCPHUB_OK is 0");
static_assert(sizeof(tcphub_event::ip) == TCPHUB_IP_LEN, "ip buffer size");
// The structs shared with the library hold bool and the int-typed framing:
// C++'s bool is one byte like C's _Bool and Rust's bool.
static_assert(sizeof(bool) == 1, "bool is one byte, as in C and Rust");
static_assert(sizeof(tcphub_framing) == sizeof(int), "framing is an int, not an enum");

namespace {
extern "C" void on_message(void *userdata, uint64_t, const uint8_t *data, size_t len) {
    static_cast<std::string *>(userdata)->assign(reinterpret_cast<const char *>(data), len);
}
}  // namespace

int main() {
    std::string last;
    // The library's own size of the options struct is C++'s.
    tcphub_client_options options;
    tcphub_client_options_init(&options);
    if (options.size != sizeof options) {
        std::fprintf(stderr, "options size: library %zu, C++ %zu\n", options.size, sizeof options);
        return 1;
    }
    tcphub_server *s = tcphub_server_new(0, 4);
    if (s == nullptr) return 1;
    if (tcphub_server_set_bind_ip(s, "127.0.0.1") != TCPHUB_OK) return 1;
    if (tcphub_server_on_message(s, on_message, &last) != TCPHUB_OK) return 1;
    if (tcphub_server_start(s) != TCPHUB_OK) return 1;
    tcphub_client *c = nullptr;
    if (tcphub_client_connect("127.0.0.1", tcphub_server_port(s), TCPHUB_FRAMING_RAW, 0, &c) != TCPHUB_OK) {
        std::fprintf(stderr, "connect: %s\n", tcphub_last_error());
        return 1;
    }
    tcphub_client_free(c);
    if (tcphub_server_stop(s) != TCPHUB_OK) return 1;
    tcphub_server_free(s);
    if (std::strcmp(tcphub_strerror(TCPHUB_ERR_BIND), "cannot listen on the address") != 0) return 1;
    std::printf("ok - header compiles and links as C++\n");
    return 0;
}
