#include "pg_conn.h"

#include <vector>

namespace walbus::source {
namespace {

// SQLSTATEs walbus reacts to (src/backend/utils/errcodes.txt).
constexpr std::string_view kObjectInUse = "55006";
constexpr std::string_view kUndefinedObject = "42704";
constexpr std::string_view kInsufficientPrivilege = "42501";
constexpr std::string_view kAdminShutdown = "57P01";
constexpr std::string_view kCrashShutdown = "57P02";
constexpr std::string_view kCannotConnectNow = "57P03";

// One line, for logs: libpq's messages end with a newline and may carry a CONTEXT line.
std::string one_line(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    for (char& c : s) {
        if (c == '\n' || c == '\t') {
            c = ' ';
        }
    }
    return s;
}

} // namespace

PgConn::~PgConn() {
    if (conn_ != nullptr) {
        PQfinish(conn_);
    }
}

std::string PgConn::redact(std::string message) const {
    if (!password_.empty()) {
        for (auto pos = message.find(password_); pos != std::string::npos;
             pos = message.find(password_, pos)) {
            message.replace(pos, password_.size(), "****");
        }
    }
    return one_line(std::move(message));
}

std::string PgConn::conn_error() const {
    return redact(PQerrorMessage(conn_));
}

Error PgConn::result_error(const PGresult* res, std::string_view what) const {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string_view sqlstate = state != nullptr ? state : "";
    std::string msg = redact(PQresultErrorMessage(res));
    if (msg.empty()) {
        msg = conn_error();
    }
    ErrorCode code = ErrorCode::Server;
    if (sqlstate == kObjectInUse) {
        code = ErrorCode::SlotInUse;
    } else if (sqlstate == kAdminShutdown || sqlstate == kCrashShutdown ||
               sqlstate == kCannotConnectNow || PQstatus(conn_) == CONNECTION_BAD) {
        code = ErrorCode::Connection;
    } else if (sqlstate == kUndefinedObject || sqlstate == kInsufficientPrivilege) {
        code = ErrorCode::ServerSetup;
    }
    return Error{code, std::string(what) + ": " + msg};
}

Result<PgResult> PgConn::exec(const std::string& sql, std::string_view what) {
    return checked(PgResult(PQexec(conn_, sql.c_str())), what);
}

Result<PgResult> PgConn::checked(PgResult res, std::string_view what) const {
    if (!res) {
        return fail(ErrorCode::Connection, std::string(what) + ": " + conn_error());
    }
    auto status = PQresultStatus(res.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        return std::unexpected(result_error(res.get(), what));
    }
    return res;
}

Result<PgResult> PgConn::query(const std::string& sql, std::initializer_list<std::string> params,
                               std::string_view what) {
    std::vector<const char*> values;
    for (const auto& p : params) {
        values.push_back(p.c_str());
    }
    return checked(PgResult(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()),
                                         nullptr, values.data(), nullptr, nullptr, 0)),
                   what);
}

Result<void> PgConn::open(const std::string& dsn, bool replication,
                          const std::string& application_name) {
    // Take the user's settings apart so that ours can be added without clobbering theirs.
    char* parse_error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &parse_error);
    if (parsed == nullptr) {
        if (parse_error != nullptr) {
            PQfreemem(parse_error); // it may quote the DSN, password included: not shown
        }
        return fail(ErrorCode::Config,
                    "source.dsn is not a valid libpq connection string or URI; check its quoting "
                    "and key=value syntax (https://www.postgresql.org/docs/current/"
                    "libpq-connect.html#LIBPQ-CONNSTRING)");
    }
    std::vector<std::string> keys;
    std::vector<std::string> values;
    std::string user_options;
    for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
        if (o->val == nullptr) {
            continue;
        }
        std::string_view key = o->keyword;
        if (key == "replication") {
            continue;
        }
        if (key == "options") {
            user_options = o->val;
            continue;
        }
        if (key == "password") {
            password_ = o->val;
        }
        keys.emplace_back(key);
        values.emplace_back(o->val);
    }
    PQconninfoFree(parsed);
    if (replication) {
        keys.emplace_back("replication");
        values.emplace_back("database");
    }
    keys.emplace_back("options");
    values.emplace_back("-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=iso_8601 "
                        "-c extra_float_digits=3 -c bytea_output=hex" +
                        (user_options.empty() ? std::string() : " " + user_options));
    bool has_app_name = false;
    for (const auto& k : keys) {
        has_app_name = has_app_name || k == "application_name";
    }
    if (!has_app_name) {
        keys.emplace_back("application_name");
        values.emplace_back(application_name);
    }
    std::vector<const char*> kw;
    std::vector<const char*> val;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        kw.push_back(keys[i].c_str());
        val.push_back(values[i].c_str());
    }
    kw.push_back(nullptr);
    val.push_back(nullptr);

    conn_ = PQconnectdbParams(kw.data(), val.data(), 0);
    if (conn_ == nullptr) {
        return fail(ErrorCode::Internal, "out of memory creating a libpq connection");
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
        std::string msg = conn_error();
        if (PQconnectionNeedsPassword(conn_) != 0) {
            return fail(ErrorCode::Auth, "cannot connect to PostgreSQL: " + msg +
                                             " (the server asks for a password: add it to "
                                             "source.dsn through ${ENV} or use ~/.pgpass)");
        }
        if (PQconnectionUsedPassword(conn_) != 0) {
            return fail(ErrorCode::Auth, "cannot connect to PostgreSQL: " + msg +
                                             " (check the user and password in source.dsn)");
        }
        return fail(ErrorCode::Connection, "cannot connect to PostgreSQL: " + msg);
    }

    return {};
}

} // namespace walbus::source
