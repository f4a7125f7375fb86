#pragma once

// A libpq connection as walbus uses it: opened from the user's DSN with walbus's session
// settings added, errors classified by SQLSTATE, the password kept out of every message.
// Private to src/source.

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>

#include "walbus/core/error.h"

namespace walbus::source {

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class PgConn {
public:
    PgConn() = default;
    ~PgConn();
    PgConn(const PgConn&) = delete;
    PgConn& operator=(const PgConn&) = delete;

    // Connects with the DSN's own settings plus DateStyle=ISO, TimeZone=UTC,
    // IntervalStyle=iso_8601, extra_float_digits=3 and bytea_output=hex (so values arrive in
    // one known text form), `replication=database` when asked, and application_name unless the
    // DSN sets one.
    [[nodiscard]] Result<void> open(const std::string& dsn, bool replication,
                                    const std::string& application_name);

    [[nodiscard]] PGconn* raw() const { return conn_; }

    // Runs a simple-protocol command that must return tuples or complete.
    [[nodiscard]] Result<PgResult> exec(const std::string& sql, std::string_view what);

    // Runs a query with text parameters (not on a replication connection).
    [[nodiscard]] Result<PgResult>
    query(const std::string& sql, std::initializer_list<std::string> params, std::string_view what);

    // The error of a failed result, classified by SQLSTATE, prefixed with `what`.
    [[nodiscard]] Error result_error(const PGresult* res, std::string_view what) const;
    // libpq's last error on this connection, one line, password masked.
    [[nodiscard]] std::string conn_error() const;
    [[nodiscard]] std::string redact(std::string message) const;

private:
    // The result, or the error it carries (or libpq's, when there is no result).
    [[nodiscard]] Result<PgResult> checked(PgResult res, std::string_view what) const;

    PGconn* conn_ = nullptr;
    std::string password_; // only to mask it in messages
};

} // namespace walbus::source
