#include "harness.h"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace walbus::test {

int server_port() {
    const char* dir = std::getenv("WALBUS_TEST_PG_DIR");
    if (dir == nullptr) {
        FAIL("WALBUS_TEST_PG_DIR is not set: run the integration tests through ctest, which starts "
             "the throwaway PostgreSQL server (scripts/pg-tmp.sh)");
    }
    std::ifstream in(fs::path(dir) / "port");
    int port = 0;
    in >> port;
    if (port == 0) {
        FAIL("no PostgreSQL server port in " << dir << "/port: the pg_start fixture failed");
    }
    return port;
}

std::string server_dsn(const std::string& dbname, const std::string& extra) {
    return "host=127.0.0.1 port=" + std::to_string(server_port()) +
           " user=postgres dbname=" + dbname + (extra.empty() ? "" : " " + extra);
}

Conn::Conn(const std::string& dsn) {
    conn_ = PQconnectdb(dsn.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
        std::string err = PQerrorMessage(conn_);
        FAIL("cannot connect to the test server: " << err);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
}

Conn::~Conn() {
    PQfinish(conn_);
}

bool Conn::try_exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    auto st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        last_error_ = PQresultErrorMessage(r);
    }
    PQclear(r);
    return ok;
}

void Conn::exec(const std::string& sql) {
    if (!try_exec(sql)) {
        FAIL("SQL failed: " << sql << "\n" << last_error_);
    }
}

std::vector<std::vector<std::optional<std::string>>> Conn::rows(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        std::string err = PQresultErrorMessage(r);
        PQclear(r);
        FAIL("query failed: " << sql << "\n" << err);
    }
    std::vector<std::vector<std::optional<std::string>>> out;
    for (int i = 0; i < PQntuples(r); ++i) {
        auto& row = out.emplace_back();
        for (int j = 0; j < PQnfields(r); ++j) {
            if (PQgetisnull(r, i, j)) {
                row.emplace_back(std::nullopt);
            } else {
                row.emplace_back(std::string(PQgetvalue(r, i, j), PQgetlength(r, i, j)));
            }
        }
    }
    PQclear(r);
    return out;
}

std::string Conn::value(const std::string& sql) {
    auto r = rows(sql);
    REQUIRE(!r.empty());
    REQUIRE(!r[0].empty());
    return r[0][0].value_or("");
}

void Conn::copy_in(const std::string& table, const std::vector<std::string>& lines) {
    PGresult* r = PQexec(conn_, ("COPY " + table + " FROM STDIN").c_str());
    REQUIRE(PQresultStatus(r) == PGRES_COPY_IN);
    PQclear(r);
    for (const auto& line : lines) {
        std::string l = line + "\n";
        REQUIRE(PQputCopyData(conn_, l.data(), static_cast<int>(l.size())) == 1);
    }
    REQUIRE(PQputCopyEnd(conn_, nullptr) == 1);
    r = PQgetResult(conn_);
    INFO(PQresultErrorMessage(r));
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    while ((r = PQgetResult(conn_)) != nullptr) {
        PQclear(r);
    }
}

TestDb::TestDb(const std::string& prefix) {
    static std::atomic<int> counter{0};
    name_ = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    Conn admin(server_dsn("postgres"));
    admin.exec("CREATE DATABASE " + name_);
    conn_ = std::make_unique<Conn>(dsn());
}

TempDir::TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "walbus-it-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
}

TempDir::~TempDir() {
    if (std::getenv("WALBUS_KEEP_TEST_DIRS") == nullptr) {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
}

Walbus::Walbus(std::vector<std::string> args, fs::path out, fs::path err,
               std::map<std::string, std::string> env)
    : err_(std::move(err)) {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(o, STDOUT_FILENO);
        ::dup2(e, STDERR_FILENO);
        ::close(STDIN_FILENO);
        for (const auto& [k, v] : env) {
            ::setenv(k.c_str(), v.c_str(), 1);
        }
        std::vector<char*> argv;
        std::string bin = WALBUS_BIN;
        argv.push_back(bin.data());
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        ::execv(bin.c_str(), argv.data());
        ::_exit(127);
    }
}

Walbus::~Walbus() {
    if (running()) {
        ::kill(pid_, SIGKILL);
        (void)wait(std::chrono::seconds(10));
    }
}

bool Walbus::running() {
    if (status_) {
        return false;
    }
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
    }
    return true;
}

void Walbus::signal(int sig) {
    if (running()) {
        ::kill(pid_, sig);
    }
}

std::optional<int> Walbus::wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
}

std::string Walbus::stderr_text() const {
    return read_file(err_);
}

Finished run_walbus(const std::vector<std::string>& args, const TempDir& dir,
                    std::map<std::string, std::string> env, std::chrono::milliseconds timeout) {
    static std::atomic<int> counter{0};
    int n = counter++;
    auto out = dir / ("run" + std::to_string(n) + ".out");
    auto err = dir / ("run" + std::to_string(n) + ".err");
    Walbus w(args, out, err, std::move(env));
    auto code = w.wait(timeout);
    if (!code) {
        w.signal(SIGKILL);
        FAIL("walbus did not finish in time; stderr:\n" << read_file(err));
    }
    return Finished{*code, read_file(out), read_file(err)};
}

fs::path write_config(const TempDir& dir, const TestDb& db, const ConfigOptions& o) {
    auto path = dir / "walbus.yaml";
    std::ofstream f(path);
    f << "name: test\n";
    f << "source:\n";
    f << "  dsn: \"" << (o.dsn.empty() ? db.dsn() : o.dsn) << "\"\n";
    f << "  slot: " << (o.slot.empty() ? db.name() : o.slot) << "\n";
    f << "  publication: " << o.publication << "\n";
    if (!o.tables.empty()) {
        f << "  tables: [";
        for (std::size_t i = 0; i < o.tables.size(); ++i) {
            f << (i ? ", " : "") << o.tables[i];
        }
        f << "]\n";
    }
    f << "  create_slot: " << (o.create_slot ? "true" : "false") << "\n";
    f << "  create_publication: " << (o.create_publication ? "true" : "false") << "\n";
    f << "  status_interval: 1s\n";
    f << o.extra_source;
    f << "sink:\n  type: file\n  path: " << (dir / "events.jsonl").string() << "\n";
    f << "  flush_interval: " << o.flush_interval << "\n";
    if (!o.flush_idle.empty()) {
        f << "  flush_idle: " << o.flush_idle << "\n";
    }
    f << "  flush_bytes: " << o.flush_bytes << "\n";
    f << "checkpoint:\n  type: file\n  path: " << (dir / "checkpoint").string() << "\n";
    return path;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> read_lines(const fs::path& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    return lines;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
}

bool slot_becomes_active(TestDb& db) {
    return eventually([&] {
        return db.conn().value("SELECT count(*) FROM pg_replication_slots WHERE active AND "
                               "slot_name = '" +
                               db.name() + "'") == "1";
    });
}

void server_restart(const std::function<void()>& while_down) {
    const char* dir = std::getenv("WALBUS_TEST_PG_DIR");
    REQUIRE(dir != nullptr);
    const std::string script = std::string(WALBUS_SCRIPTS_DIR) + "/pg-tmp.sh";
    REQUIRE(std::system((script + " halt " + dir).c_str()) == 0);
    while_down();
    REQUIRE(std::system((script + " resume " + dir).c_str()) == 0);
}

void catch_up(const TempDir& dir, TestDb& db, const fs::path& config,
              std::chrono::milliseconds timeout) {
    auto lsn = db.current_wal_lsn();
    auto r =
        run_walbus({"run", "--config", config.string(), "--stop-at-lsn", lsn}, dir, {}, timeout);
    INFO("walbus stderr:\n" << r.err);
    REQUIRE(r.code == 0);
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

} // namespace walbus::test
