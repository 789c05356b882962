// Review cg: the C API as a C++17 program uses it — handles owned by
// std::unique_ptr with the library's free functions as deleters,
// captureless lambdas as callbacks with their state behind userdata, a
// lambda-free userdata destructor, messages released by RAII — warning
// free under -Wall -Wextra -Wpedantic -Wold-style-cast, and working.
#include <tcphub.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n  tcphub_last_error: %s\n",    \
                         __FILE__, __LINE__, #cond, tcphub_last_error());                 \
            std::exit(1);                                                                 \
        }                                                                                 \
    } while (0)

struct ServerDeleter {
    void operator()(tcphub_server *s) const noexcept { tcphub_server_free(s); }
};
using Server = std::unique_ptr<tcphub_server, ServerDeleter>;
// The free function itself as the deleter, as many C++ codebases write it.
using Client = std::unique_ptr<tcphub_client, decltype(&tcphub_client_free)>;
using Cancel = std::unique_ptr<tcphub_connect_cancel, decltype(&tcphub_connect_cancel_free)>;
using ReadyFd = std::unique_ptr<tcphub_ready_fd, decltype(&tcphub_ready_fd_free)>;

// A received message, released when it goes out of scope.
struct Message : tcphub_message {
    Message() : tcphub_message() {}
    ~Message() { tcphub_message_release(this); }
    Message(const Message &) = delete;
    Message &operator=(const Message &) = delete;
    std::string text() const { return std::string(reinterpret_cast<const char *>(data), len); }
};

// What the callbacks share with main: reached through userdata.
struct Hub {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> lines;
    std::atomic<int> connects{0};
    std::atomic<int> disconnects{0};
    tcphub_server *server = nullptr;  // not owned
};

std::atomic<int> hubs_freed{0};

template <class Pred>
bool wait_for(Hub &hub, Pred pred) {
    std::unique_lock<std::mutex> lock(hub.mu);
    return hub.cv.wait_for(lock, std::chrono::seconds(20), pred);
}

}  // namespace

int main() {
    REQUIRE(std::string(tcphub_version()) ==
            std::to_string(TCPHUB_VERSION_MAJOR) + "." + std::to_string(TCPHUB_VERSION_MINOR) + "." +
                std::to_string(TCPHUB_VERSION_PATCH));

    auto *hub = new Hub;
    Server server(tcphub_server_new(0, 16));
    REQUIRE(server != nullptr);
    hub->server = server.get();
    REQUIRE(tcphub_server_set_bind_ip(server.get(), "127.0.0.1") == TCPHUB_OK);
    REQUIRE(tcphub_server_set_framing(server.get(), TCPHUB_FRAMING_LINES, 0) == TCPHUB_OK);
    REQUIRE(tcphub_server_on_connect(
                server.get(),
                [](void *ud, uint64_t, const char *ip, uint16_t) {
                    auto *h = static_cast<Hub *>(ud);
                    if (std::strcmp(ip, "127.0.0.1") == 0) h->connects++;
                },
                hub) == TCPHUB_OK);
    REQUIRE(tcphub_server_on_message(
                server.get(),
                [](void *ud, uint64_t id, const uint8_t *data, size_t len) {
                    auto *h = static_cast<Hub *>(ud);
                    std::string line(reinterpret_cast<const char *>(data), len);
                    {
                        std::lock_guard<std::mutex> lock(h->mu);
                        h->lines.push_back(line);
                    }
                    h->cv.notify_all();
                    // Re-entrant: the callback answers through the library.
                    std::string reply = "echo " + line;
                    tcphub_server_send(h->server, id, reinterpret_cast<const uint8_t *>(reply.data()),
                                       reply.size());
                },
                hub) == TCPHUB_OK);
    REQUIRE(tcphub_server_on_disconnect(
                server.get(),
                [](void *ud, uint64_t, int) {
                    auto *h = static_cast<Hub *>(ud);
                    h->disconnects++;
                    h->cv.notify_all();
                },
                hub) == TCPHUB_OK);
    REQUIRE(tcphub_server_set_userdata_free(server.get(), [](void *ud) {
                delete static_cast<Hub *>(ud);
                hubs_freed++;
            }) == TCPHUB_OK);
    REQUIRE(tcphub_server_start(server.get()) == TCPHUB_OK);
    const uint16_t port = tcphub_server_port(server.get());

    {
        tcphub_client_options options;
        tcphub_client_options_init(&options);
        options.framing = TCPHUB_FRAMING_LINES;
        Cancel cancel(tcphub_connect_cancel_new(), &tcphub_connect_cancel_free);
        REQUIRE(cancel != nullptr);
        options.cancel = cancel.get();
        tcphub_client *raw = nullptr;
        REQUIRE(tcphub_client_connect_with("127.0.0.1", port, &options, &raw) == TCPHUB_OK);
        Client client(raw, &tcphub_client_free);
        cancel.reset();  // the client took its own share

        tcphub_ready_fd *ready_raw = nullptr;
        REQUIRE(tcphub_client_ready_fd(client.get(), &ready_raw) == TCPHUB_OK);
        ReadyFd ready(ready_raw, &tcphub_ready_fd_free);
        REQUIRE(tcphub_ready_fd_fileno(ready.get()) >= 0);

        // Several threads share the client handle (documented as allowed).
        std::vector<std::thread> senders;
        for (int t = 0; t < 4; t++)
            senders.emplace_back([&client, t] {
                std::string line = "from thread " + std::to_string(t);
                REQUIRE(tcphub_client_send(client.get(), reinterpret_cast<const uint8_t *>(line.data()),
                                           line.size()) == TCPHUB_OK);
            });
        for (auto &t : senders) t.join();

        std::vector<std::string> echoes;
        while (echoes.size() < 4) {
            Message msg;
            REQUIRE(tcphub_client_recv(client.get(), &msg, 20000) == TCPHUB_OK);
            echoes.push_back(msg.text());
        }
        for (const auto &e : echoes) REQUIRE(e.rfind("echo from thread ", 0) == 0);
        REQUIRE(hub->connects == 1);
        REQUIRE(wait_for(*hub, [hub] { return hub->lines.size() == 4; }));
        // client, ready and everything else go out of scope here: freed in
        // reverse order (ready fd first, then the client).
    }
    REQUIRE(wait_for(*hub, [hub] { return hub->disconnects == 1; }));

    // An error is a code plus the calling thread's text.
    Client nobody(nullptr, &tcphub_client_free);
    {
        tcphub_client *raw = nullptr;
        int rc = tcphub_client_connect("127.0.0.1", 1, TCPHUB_FRAMING_LINES, 0, &raw);
        nobody.reset(raw);
        REQUIRE(rc == TCPHUB_ERR_CONNECT);
        REQUIRE(nobody == nullptr);
        REQUIRE(std::strstr(tcphub_last_error(), "tcphub_client_connect") != nullptr);
    }

    server.reset();  // stops, runs the userdata destructor after the last callback
    REQUIRE(hubs_freed == 1);
    std::printf("ok - C++17 RAII wrappers, lambda callbacks, userdata destructor\n");
    return 0;
}
