#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "walbus/core/error.h"

namespace walbus::metrics {

class Registry;
class Readiness;

struct HttpServerOptions {
    // Loopback by default: metrics are for the local agent unless the operator opens them up.
    std::string host = "127.0.0.1";
    // 0 picks a free port; HttpServer::port() tells which.
    std::uint16_t port = 0;
};

// The operator's endpoints, served on a thread of their own (plus two workers for requests):
//   GET /metrics  200, the registry in the Prometheus text format 0.0.4
//   GET /healthz  200 "ok" while the process runs
//   GET /readyz   200 "ready" when the readiness flag is set, else 503 and its reason
// Bodies end with a newline. The registry and the readiness flag must outlive the server.
// start() and stop() are called by the owner only (not concurrently with each other).
class HttpServer {
public:
    HttpServer(HttpServerOptions options, const Registry& registry, const Readiness& readiness);
    // Stops the server if it runs.
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts serving; returns once connections are accepted. An address that cannot be
    // bound (a port in use, an address not on this host) is an ErrorCode::Config error naming
    // it. Call once.
    [[nodiscard]] Result<void> start();
    // Stops accepting, finishes the requests in progress and joins the threads. Idempotent.
    void stop();

    // The bound port (the chosen one when the options said 0); 0 before start().
    [[nodiscard]] std::uint16_t port() const;
    // host:port, [host]:port for an IPv6 address; with the bound port once started.
    [[nodiscard]] std::string address() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace walbus::metrics
