// walbus: PostgreSQL logical replication → events.
//
// Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage.

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include "logging.h"
#include "status.h"
#include "walbus/config/config.h"
#include "walbus/metrics/http_server.h"
#include "walbus/metrics/pipeline_metrics.h"
#include "walbus/metrics/readiness.h"
#include "walbus/pipeline/pipeline.h"
#include "walbus/pipeline/setup.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitConfig = 2;

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
    g_stop.store(true);
}

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocking poll wakes up at once
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

// Prints every diagnostic; returns the config and its compiled rules when there were none.
std::optional<walbus::PreparedConfig> report(walbus::PreparedConfig prepared,
                                             const std::string& path) {
    for (const auto& d : prepared.diagnostics) {
        std::cerr << d.str() << "\n";
    }
    if (!prepared.diagnostics.empty()) {
        std::cerr << prepared.diagnostics.size() << " error"
                  << (prepared.diagnostics.size() == 1 ? "" : "s") << " in " << path << "\n";
        return std::nullopt;
    }
    return prepared;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"walbus: turns committed PostgreSQL changes into events, exactly once, from the "
                 "logical replication stream"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "walbus 0.1.0");

    std::string config_path;
    std::string log_format = "text";
    std::string log_level = "info";
    std::string stop_at;

    auto* run = app.add_subcommand("run", "stream changes from PostgreSQL to the configured sink");
    run->add_option("-c,--config", config_path, "configuration file (YAML)")->required();
    run->add_option("--stop-at-lsn", stop_at,
                    "stop cleanly once everything up to this LSN (e.g. 0/16B3748) is written");
    run->add_option("--log-format", log_format, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
    run->add_option("--log-level", log_level, "trace, debug, info, warn, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

    bool connect = false;
    auto* check = app.add_subcommand("check", "validate a configuration file and its rules");
    check->add_option("-c,--config", config_path, "configuration file (YAML)")->required();
    check->add_flag("--connect", connect,
                    "also check the rules and the set-up against the database: tables, "
                    "columns, types, replica identity, wal_level, publication, slot");

    auto* tail = app.add_subcommand(
        "tail", "print the events the rules make of new commits, read-only: a temporary slot, "
                "standard output, no checkpoint");
    tail->add_option("-c,--config", config_path, "configuration file (YAML)")->required();
    tail->add_option("--log-level", log_level, "trace, debug, info, warn, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

    bool status_json = false;
    auto* status = app.add_subcommand(
        "status", "report the replication slot, the WAL it holds back, the publication and the "
                  "last checkpoint, read-only");
    status->add_option("-c,--config", config_path, "configuration file (YAML)")->required();
    status->add_flag("--json", status_json, "one JSON object instead of text");

    auto* doc = app.add_subcommand("config-doc",
                                   "print the configuration reference (docs/configuration.md)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? kExitOk : kExitConfig;
    }

    if (doc->parsed()) {
        std::cout << walbus::config::reference_markdown();
        return kExitOk;
    }

    auto loaded = walbus::config::load_file(config_path);
    std::optional<walbus::PreparedConfig> prepared;
    if (check->parsed() && connect) {
        auto checked = walbus::prepare_config_connected(std::move(loaded), config_path);
        if (!checked) {
            std::cerr << "error: " << checked.error().message << "\n";
            return checked.error().code == walbus::ErrorCode::Config ? kExitConfig : kExitRuntime;
        }
        prepared = report(std::move(*checked), config_path);
    } else {
        prepared = report(walbus::prepare_config(std::move(loaded), config_path), config_path);
    }
    if (!prepared) {
        return kExitConfig;
    }
    if (status->parsed()) {
        return walbus::app::print_status(*prepared->config, prepared->rules, status_json,
                                         std::cout);
    }
    if (check->parsed()) {
        std::cerr << config_path << ": ok";
        if (prepared->rules) {
            std::cerr << " (" << prepared->rules->size() << " rule"
                      << (prepared->rules->size() == 1 ? "" : "s") << ")";
        }
        std::cerr << (connect ? ", checked against the database" : "") << "\n";
        return kExitOk;
    }

    walbus::app::setup_logging(log_format == "json" ? walbus::app::LogFormat::Json
                                                    : walbus::app::LogFormat::Text,
                               log_level);
    walbus::RunOptions options;
    options.rules = prepared->rules;
    options.tail = tail->parsed();
    if (!stop_at.empty()) {
        auto lsn = walbus::Lsn::parse(stop_at);
        if (!lsn) {
            std::cerr << "error: --stop-at-lsn '" << stop_at
                      << "' is not an LSN; write it as PostgreSQL does, e.g. 0/16B3748\n";
            return kExitConfig;
        }
        options.stop_at = *lsn;
    }
    install_signal_handlers();

    // Metrics are counted whether or not they are served; metrics.port serves them.
    walbus::metrics::Registry registry;
    walbus::metrics::PipelineMetrics metrics(registry, WALBUS_VERSION);
    walbus::metrics::Readiness readiness;
    readiness.set_not_ready("connecting to PostgreSQL");
    options.metrics = &metrics;
    options.readiness = &readiness;
    std::optional<walbus::metrics::HttpServer> server;
    const walbus::config::MetricsConfig& mc = prepared->config->metrics;
    if (mc.port != 0 && !options.tail) {
        server.emplace(
            walbus::metrics::HttpServerOptions{mc.address, static_cast<std::uint16_t>(mc.port)},
            registry, readiness);
        if (auto ok = server->start(); !ok) {
            spdlog::error("metrics.port: {}", ok.error().message);
            return kExitConfig;
        }
        spdlog::info("metrics at http://{}/metrics", server->address());
    }

    walbus::Pipeline pipeline(std::move(*prepared->config), options);
    auto result = pipeline.run(g_stop);
    if (!result) {
        spdlog::error("{}", result.error().message);
        return result.error().code == walbus::ErrorCode::Config ? kExitConfig : kExitRuntime;
    }
    return kExitOk;
}
