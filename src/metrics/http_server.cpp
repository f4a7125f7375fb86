#include "walbus/metrics/http_server.h"

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <system_error>
#include <thread>

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>

#include "walbus/metrics/readiness.h"
#include "walbus/metrics/registry.h"

namespace walbus::metrics {

namespace {

// Scrapes and probes are few and short; two workers let a probe through during a slow scrape.
constexpr std::size_t kWorkers = 2;
constexpr time_t kIoTimeoutSeconds = 5;
constexpr std::string_view kPlainText = "text/plain; charset=utf-8";

std::string format_address(const std::string& host, std::uint16_t port) {
    std::string port_text = std::to_string(port);
    if (host.find(':') != std::string::npos) {
        return "[" + host + "]:" + port_text;
    }
    return host + ":" + port_text;
}

std::string lower_first(std::string text) {
    if (!text.empty()) {
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    }
    return text;
}

// Why bind() or listen() failed, and what to do about it.
std::string bind_failure(int err) {
    if (err == 0) {
        return "the address cannot be bound; choose another address";
    }
    std::string why = lower_first(std::generic_category().message(err));
    switch (err) {
    case EADDRINUSE: return why + "; stop what listens there or choose another port";
    case EADDRNOTAVAIL: return why + " (not an address of this host); choose another address";
    case EACCES: return why + " (ports below 1024 need privileges); choose another port";
    default: return why + "; choose another address";
    }
}

} // namespace

struct HttpServer::Impl {
    explicit Impl(HttpServerOptions opts) : options(std::move(opts)) {}

    HttpServerOptions options;
    httplib::Server server;
    std::thread thread;
    std::atomic<bool> listen_returned{false};
    std::uint16_t port = 0;
};

HttpServer::HttpServer(HttpServerOptions options, const Registry& registry,
                       const Readiness& readiness)
    : impl_(std::make_unique<Impl>(std::move(options))) {
    httplib::Server& server = impl_->server;
    server.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
    // httplib's default sets SO_REUSEPORT, which lets a second process bind the same port and
    // take half of the scrapes. SO_REUSEADDR only allows a restart while old connections are in
    // TIME_WAIT; a port that another process listens on still fails to bind.
    server.set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    // One request per connection: an idle keep-alive connection would hold stop() until its
    // timeout, and a scrape every few seconds gains nothing from keeping one open.
    server.set_keep_alive_max_count(1);
    server.set_read_timeout(kIoTimeoutSeconds);
    server.set_write_timeout(kIoTimeoutSeconds);
    server.set_payload_max_length(64 * 1024);

    const Registry* reg = &registry;
    const Readiness* ready = &readiness;
    server.Get("/metrics", [reg](const httplib::Request&, httplib::Response& res) {
        res.set_content(reg->expose(), std::string(kTextContentType));
    });
    server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("ok\n", std::string(kPlainText));
    });
    server.Get("/readyz", [ready](const httplib::Request&, httplib::Response& res) {
        Readiness::State state = ready->state();
        if (state.ready) {
            res.set_content("ready\n", std::string(kPlainText));
        } else {
            res.status = 503;
            res.set_content(state.reason + "\n", std::string(kPlainText));
        }
    });
}

HttpServer::~HttpServer() {
    stop();
}

Result<void> HttpServer::start() {
    Impl& impl = *impl_;
    if (impl.thread.joinable()) {
        return fail(ErrorCode::Internal, "the metrics server already listens on " + address());
    }
    const std::string& host = impl.options.host;
    const std::string where =
        "cannot listen for metrics on " + format_address(host, impl.options.port);
    // Resolved here first, so that a name that does not resolve is told apart from a bind that
    // fails (httplib reports neither, and getaddrinfo does not set errno).
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
        return fail(ErrorCode::Config, where + ": cannot resolve \"" + host + "\" (" +
                                           lower_first(gai_strerror(rc)) +
                                           "); use an IP address or a name of this host");
    }
    ::freeaddrinfo(found);

    errno = 0;
    int port = impl.options.port == 0 ? impl.server.bind_to_any_port(host)
               : impl.server.bind_to_port(host, impl.options.port) ? impl.options.port
                                                                   : -1;
    if (port < 0) {
        int err = errno;
        return fail(ErrorCode::Config, where + ": " + bind_failure(err));
    }
    impl.port = static_cast<std::uint16_t>(port);
    impl.listen_returned = false;
    impl.thread = std::thread([&impl] {
        impl.server.listen_after_bind();
        impl.listen_returned = true;
    });
    // httplib's stop() does nothing until the accept loop runs: wait for it, so that a stop()
    // right after start() cannot be lost.
    while (!impl.server.is_running() && !impl.listen_returned) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return {};
}

void HttpServer::stop() {
    Impl& impl = *impl_;
    if (!impl.thread.joinable()) {
        return;
    }
    impl.server.stop();
    impl.thread.join();
}

std::uint16_t HttpServer::port() const {
    return impl_->port;
}

std::string HttpServer::address() const {
    return format_address(impl_->options.host,
                          impl_->port != 0 ? impl_->port : impl_->options.port);
}

} // namespace walbus::metrics
