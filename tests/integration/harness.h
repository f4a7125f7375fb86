#pragma once

// Test harness for integration tests: the throwaway PostgreSQL that the ctest fixture started
// (scripts/pg-tmp.sh), a database per test, the real walbus binary as a child process, and
// readers for its output.

#include <libpq-fe.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace walbus::test {

namespace fs = std::filesystem;

// The server started by the ctest fixture: host 127.0.0.1 and the port it wrote.
int server_port();
std::string server_dsn(const std::string& dbname, const std::string& extra = "");

// A libpq connection that fails the test on any error unless told otherwise.
class Conn {
public:
    explicit Conn(const std::string& dsn);
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    void exec(const std::string& sql);
    // Runs sql; returns false (with the error in last_error()) instead of failing the test.
    bool try_exec(const std::string& sql);
    std::string value(const std::string& sql); // first column of the first row
    std::vector<std::vector<std::optional<std::string>>> rows(const std::string& sql);
    // COPY table FROM STDIN with the given text-format lines.
    void copy_in(const std::string& table, const std::vector<std::string>& lines);
    const std::string& last_error() const { return last_error_; }
    PGconn* raw() { return conn_; }

private:
    PGconn* conn_ = nullptr;
    std::string last_error_;
};

// A new database (unique name) on the test server, with a connection to it.
class TestDb {
public:
    explicit TestDb(const std::string& prefix);
    const std::string& name() const { return name_; }
    std::string dsn() const { return server_dsn(name_); }
    Conn& conn() { return *conn_; }
    std::string current_wal_lsn() { return conn_->value("SELECT pg_current_wal_lsn()"); }

private:
    std::string name_;
    std::unique_ptr<Conn> conn_;
};

// A fresh temporary directory, removed at the end of the test.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

// The walbus binary run as a child process with stdout and stderr captured in files.
class Walbus {
public:
    Walbus(std::vector<std::string> args, fs::path out, fs::path err,
           std::map<std::string, std::string> env = {});
    ~Walbus();
    Walbus(const Walbus&) = delete;
    Walbus& operator=(const Walbus&) = delete;

    bool running();
    void signal(int sig);
    // Waits for exit; returns the exit code (128 + signal when killed), or nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
    std::string stderr_text() const;
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
    fs::path err_;
};

// Runs walbus to completion (e.g. `check`, or a run that must fail) and returns its exit code
// and captured stderr.
struct Finished {
    int code = -1;
    std::string out;
    std::string err;
};
Finished run_walbus(const std::vector<std::string>& args, const TempDir& dir,
                    std::map<std::string, std::string> env = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Stops the fixture's server (fast shutdown: clients are cut off), runs `while_down`, and starts
// it again on its port with its data (scripts/pg-tmp.sh halt and resume). Only for tests that
// run alone.
void server_restart(const std::function<void()>& while_down);

// Writes a walbus configuration for `db` with a file sink into dir; returns its path.
struct ConfigOptions {
    std::string slot; // default: the database's name (slots are per server)
    std::string publication = "walbus";
    std::vector<std::string> tables;
    bool create_slot = true;
    bool create_publication = true;
    std::string dsn;          // default: the test database's DSN
    std::string extra_source; // more YAML lines under source:, indented by 2
    std::string flush_interval = "50ms";
    std::string flush_idle; // sink.flush_idle; empty: the default
    std::string flush_bytes = "4MiB";
};
inline ConfigOptions with_tables(std::vector<std::string> tables) {
    ConfigOptions o;
    o.tables = std::move(tables);
    return o;
}
fs::path write_config(const TempDir& dir, const TestDb& db, const ConfigOptions& options);

std::string read_file(const fs::path& path);

// A TCP port on 127.0.0.1 nothing listens on now (bound to port 0 and released).
int free_port();
std::vector<std::string> read_lines(const fs::path& path);

// Polls `done` until it is true or the timeout passes; returns its last value.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Waits until the slot named after `db` is being streamed by some process.
bool slot_becomes_active(TestDb& db);

// Runs walbus until it has written everything the server had committed when called: takes
// pg_current_wal_lsn(), runs `walbus run --stop-at-lsn` and requires exit code 0.
void catch_up(const TempDir& dir, TestDb& db, const fs::path& config,
              std::chrono::milliseconds timeout = std::chrono::seconds(120));

} // namespace walbus::test
