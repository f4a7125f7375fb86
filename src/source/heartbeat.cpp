#include "walbus/source/heartbeat.h"

#include "walbus/core/pg_types.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <string>

#include "pg_conn.h"

namespace walbus::source {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kBackoffStart{100};
// A connection attempt or a query that takes longer counts as a failure; the DSN's own
// connect_timeout, when it sets one, wins for connecting.
constexpr int kConnectTimeoutSeconds = 10;
constexpr milliseconds kQueryTimeout{10'000};

constexpr const char* kSql = "SELECT pg_logical_emit_message(false, 'walbus.heartbeat', $1)";

// "2024-05-01T10:00:00.123456Z"
std::string utc_now_iso() {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    return pg::format_utc_timestamp(us);
}

// A keyword/value value in single quotes, as libpq reads it.
std::string conninfo_value(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

// The DSN with a connect_timeout when it has none, so that an unreachable host cannot hold the
// thread (and stop()) for the operating system's TCP timeout. A DSN libpq cannot parse is
// returned as it is: PgConn::open reports it without quoting it.
std::string with_connect_timeout(const std::string& dsn) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
    if (options == nullptr) {
        if (error != nullptr) {
            PQfreemem(error);
        }
        return dsn;
    }
    std::string out;
    bool has_timeout = false;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (o->val == nullptr) {
            continue;
        }
        has_timeout = has_timeout || std::string_view(o->keyword) == "connect_timeout";
        out += std::string(o->keyword) + "=" + conninfo_value(o->val) + " ";
    }
    PQconninfoFree(options);
    if (has_timeout) {
        return dsn;
    }
    return out + "connect_timeout=" + std::to_string(kConnectTimeoutSeconds);
}

} // namespace

struct Heartbeat::Impl {
    SourceSettings settings;
    milliseconds interval;
    Callbacks callbacks;
    milliseconds backoff_max;
    std::string dsn; // settings.dsn with a connect_timeout
    int wake_fd = -1;
    std::atomic<bool> stopping{false};
    std::optional<PgConn> pg;
    std::minstd_rand rng{std::random_device{}()};

    ~Impl() {
        if (wake_fd >= 0) {
            ::close(wake_fd);
        }
    }

    // Waits until `deadline`; false when stop() came first.
    bool wait_until(Clock::time_point deadline) {
        while (!stopping.load()) {
            const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) {
                return true;
            }
            pollfd pfd{wake_fd, POLLIN, 0};
            (void)::poll(&pfd, 1,
                         static_cast<int>(std::min<milliseconds::rep>(left.count(), 60'000)));
        }
        return false;
    }

    // Runs the heartbeat query on the open connection, waking up for stop(). Returns nullopt
    // when stopped.
    std::optional<Result<void>> emit() {
        PGconn* conn = pg->raw();
        const std::string now = utc_now_iso();
        const char* values[1] = {now.c_str()};
        if (PQsendQueryParams(conn, kSql, 1, nullptr, values, nullptr, nullptr, 0) == 0) {
            return fail(ErrorCode::Connection, "heartbeat: " + pg->conn_error());
        }
        const auto deadline = Clock::now() + kQueryTimeout;
        while (PQisBusy(conn) != 0) {
            if (stopping.load()) {
                return std::nullopt;
            }
            const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) {
                return fail(ErrorCode::Connection, "heartbeat: no answer from the server within " +
                                                       std::to_string(kQueryTimeout.count()) +
                                                       " ms");
            }
            std::array<pollfd, 2> pfd{{{PQsocket(conn), POLLIN, 0}, {wake_fd, POLLIN, 0}}};
            const int ready = ::poll(pfd.data(), pfd.size(), static_cast<int>(left.count()));
            if (ready < 0 && errno != EINTR) {
                return fail(ErrorCode::Connection,
                            std::string("heartbeat: poll: ") + std::strerror(errno));
            }
            if (ready > 0 && (pfd[0].revents != 0) && PQconsumeInput(conn) == 0) {
                return fail(ErrorCode::Connection, "heartbeat: " + pg->conn_error());
            }
        }
        Result<void> result;
        for (PgResult res(PQgetResult(conn)); res; res.reset(PQgetResult(conn))) {
            if (PQresultStatus(res.get()) != PGRES_TUPLES_OK && result) {
                result = std::unexpected(pg->result_error(res.get(), "heartbeat"));
            }
        }
        return result;
    }
};

Heartbeat::Heartbeat(SourceSettings settings, milliseconds interval, Callbacks callbacks,
                     milliseconds backoff_max)
    : impl_(std::make_unique<Impl>()) {
    impl_->settings = std::move(settings);
    impl_->settings.application_name += " heartbeat";
    impl_->interval = interval;
    impl_->callbacks = std::move(callbacks);
    impl_->backoff_max = std::max(backoff_max, kBackoffStart);
}

Heartbeat::~Heartbeat() {
    stop();
}

void Heartbeat::start() {
    if (thread_.joinable() || impl_->interval.count() <= 0) {
        return;
    }
    if (impl_->wake_fd < 0) {
        impl_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    impl_->dsn = with_connect_timeout(impl_->settings.dsn);
    impl_->stopping.store(false);
    thread_ = std::thread([this] { loop(); });
}

void Heartbeat::stop() {
    if (!thread_.joinable()) {
        return;
    }
    impl_->stopping.store(true);
    if (impl_->wake_fd >= 0) {
        const std::uint64_t one = 1;
        (void)!::write(impl_->wake_fd, &one, sizeof one);
    }
    thread_.join();
    if (impl_->wake_fd >= 0) { // drain it for a later start()
        std::uint64_t count = 0;
        (void)!::read(impl_->wake_fd, &count, sizeof count);
    }
}

void Heartbeat::loop() {
    Impl& s = *impl_;
    int streak = 0; // failures in a row
    auto next = Clock::now();
    while (s.wait_until(next)) {
        const auto attempt_start = Clock::now();
        Result<void> result;
        if (!s.pg) {
            s.pg.emplace();
            result = s.pg->open(s.dsn, false, s.settings.application_name);
        }
        if (result) {
            auto emitted = s.emit();
            if (!emitted) {
                break; // stopped
            }
            result = *emitted;
        }
        if (result) {
            sent_.fetch_add(1, std::memory_order_relaxed);
            if (streak > 0 && s.callbacks.on_recovery) {
                s.callbacks.on_recovery();
            }
            streak = 0;
            next = attempt_start + s.interval;
            continue;
        }
        failures_.fetch_add(1, std::memory_order_relaxed);
        s.pg.reset(); // a fresh connection for the next attempt
        if (streak == 0 && s.callbacks.on_failure) {
            s.callbacks.on_failure(result.error());
        }
        // Capped exponential backoff with jitter in [1/2, 1] of the step.
        const auto step =
            std::min<milliseconds>(s.backoff_max, kBackoffStart * (1LL << std::min(streak, 16)));
        std::uniform_int_distribution<milliseconds::rep> jitter(step.count() / 2, step.count());
        ++streak;
        next = Clock::now() + milliseconds(jitter(s.rng));
    }
    s.pg.reset();
}

} // namespace walbus::source
