#include "walbus/mappers/expr.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>

#include "walbus/core/json_scan.h"
#include "walbus/core/json_writer.h"
#include "walbus/core/pg_types.h"
#include "walbus/core/table_name.h"
#include "walbus/core/text_match.h"

namespace walbus::mappers {

std::string_view to_string(ValueType type) {
    switch (type) {
    case ValueType::Unknown: return "unknown";
    case ValueType::Null: return "null";
    case ValueType::Bool: return "boolean";
    case ValueType::Number: return "number";
    case ValueType::String: return "string";
    case ValueType::Json: return "JSON";
    }
    return "?";
}

ValueType value_type_of(std::uint32_t type_oid, const pg::TypeRegistry& types) {
    // Domains are values of their base type; follow a bounded chain.
    for (int depth = 0; depth < pg::kMaxValueDepth; ++depth) {
        const pg::TypeRegistry::Entry* entry = types.entry(type_oid);
        pg::JsonForm form = pg::JsonForm::String;
        if (entry != nullptr) {
            form = entry->form;
        } else if (!pg::TypeRegistry::builtin_form(type_oid, form)) {
            return ValueType::String;
        }
        switch (form) {
        case pg::JsonForm::Bool: return ValueType::Bool;
        case pg::JsonForm::Integer:
        case pg::JsonForm::Float:
        case pg::JsonForm::Numeric: return ValueType::Number;
        case pg::JsonForm::Json: return ValueType::Json;
        case pg::JsonForm::Domain:
            if (entry == nullptr) {
                return ValueType::String;
            }
            type_oid = entry->desc.element_oid;
            continue;
        default: return ValueType::String;
        }
    }
    return ValueType::String;
}

// ---- numbers -------------------------------------------------------------------------------

namespace {

// A number in decimal text, read without copying.
struct Decimal {
    int sign = 0;    // -1, 0 or 1
    int special = 0; // 0 finite, 1 Infinity, 2 NaN
    // The significant digits are digits[first..] of int_part followed by frac_part, with
    // trailing zeros possibly present; the value is 0.<digits> × 10^point.
    std::string_view int_part;
    std::string_view frac_part;
    std::int64_t point = 0;
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool parse_decimal(std::string_view s, Decimal& d) {
    d = Decimal{};
    int sign = 1;
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '-' ? -1 : 1;
        ++i;
    }
    const std::string_view rest = s.substr(i);
    if (rest == "NaN" && i == 0) {
        d.special = 2;
        return true;
    }
    if (rest == "Infinity" || rest == "inf") {
        d.special = 1;
        d.sign = sign;
        return true;
    }
    const std::size_t int_start = i;
    while (i < s.size() && is_digit(s[i])) {
        ++i;
    }
    std::string_view int_part = s.substr(int_start, i - int_start);
    std::string_view frac_part;
    if (i < s.size() && s[i] == '.') {
        const std::size_t frac_start = ++i;
        while (i < s.size() && is_digit(s[i])) {
            ++i;
        }
        frac_part = s.substr(frac_start, i - frac_start);
    }
    if (int_part.empty() && frac_part.empty()) {
        return false;
    }
    std::int64_t exponent = 0;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool negative = false;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
            negative = s[i] == '-';
            ++i;
        }
        const std::size_t exp_start = i;
        while (i < s.size() && is_digit(s[i])) {
            if (exponent < 1'000'000'000) {
                exponent = exponent * 10 + (s[i] - '0');
            }
            ++i;
        }
        if (i == exp_start) {
            return false;
        }
        exponent = negative ? -exponent : exponent;
    }
    if (i != s.size()) {
        return false;
    }
    // Drop leading zeros; the point moves left over zeros at the start of the fraction.
    while (!int_part.empty() && int_part.front() == '0') {
        int_part.remove_prefix(1);
    }
    std::int64_t point = static_cast<std::int64_t>(int_part.size()) + exponent;
    if (int_part.empty()) {
        while (!frac_part.empty() && frac_part.front() == '0') {
            frac_part.remove_prefix(1);
            --point;
        }
    }
    const bool zero =
        int_part.empty() && std::ranges::all_of(frac_part, [](char c) { return c == '0'; });
    d.sign = zero ? 0 : sign;
    d.int_part = int_part;
    d.frac_part = frac_part;
    d.point = point;
    return true;
}

int compare_magnitude(const Decimal& a, const Decimal& b) {
    if (a.point != b.point) {
        return a.point < b.point ? -1 : 1;
    }
    auto digit = [](const Decimal& d, std::size_t k) {
        if (k < d.int_part.size()) {
            return d.int_part[k];
        }
        k -= d.int_part.size();
        return k < d.frac_part.size() ? d.frac_part[k] : '0';
    };
    const std::size_t n =
        std::max(a.int_part.size() + a.frac_part.size(), b.int_part.size() + b.frac_part.size());
    for (std::size_t k = 0; k < n; ++k) {
        const char x = digit(a, k);
        const char y = digit(b, k);
        if (x != y) {
            return x < y ? -1 : 1;
        }
    }
    return 0;
}

} // namespace

bool compare_numbers(std::string_view a, std::string_view b, int& result) {
    Decimal x;
    Decimal y;
    if (!parse_decimal(a, x) || !parse_decimal(b, y)) {
        return false;
    }
    // PostgreSQL's order: -Infinity < finite < Infinity < NaN, and NaN = NaN.
    auto rank = [](const Decimal& d) {
        if (d.special == 2) {
            return 2;
        }
        if (d.special == 1) {
            return d.sign;
        }
        return 0;
    };
    if (rank(x) != rank(y) || x.special != 0 || y.special != 0) {
        result = rank(x) == rank(y) ? 0 : (rank(x) < rank(y) ? -1 : 1);
        return true;
    }
    if (x.sign != y.sign || x.sign == 0) {
        result = x.sign == y.sign ? 0 : (x.sign < y.sign ? -1 : 1);
        return true;
    }
    const int magnitude = compare_magnitude(x, y);
    result = x.sign < 0 ? -magnitude : magnitude;
    return true;
}

// ---- lexer ---------------------------------------------------------------------------------

namespace {

enum class Tok : std::uint8_t {
    End,
    Ident,  // a bare name (keywords are bare names too)
    QIdent, // "a quoted name"
    Number,
    String, // 'text'
    LParen,
    RParen,
    Comma,
    Dot,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
};

struct Token {
    Tok kind = Tok::End;
    std::size_t offset = 0;
    std::string_view raw; // as written
    std::string value;    // Ident: lower-cased; QIdent, String: unescaped; Number: the text
};

std::string_view describe(const Token& t) {
    switch (t.kind) {
    case Tok::End: return "the end of the expression";
    default: return t.raw;
    }
}

class Lexer {
public:
    explicit Lexer(std::string_view text) : s_(text) {}

    // The next token, or an error.
    std::expected<Token, ExprError> next() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
            ++pos_;
        }
        Token t;
        t.offset = pos_;
        if (pos_ >= s_.size()) {
            return t;
        }
        const char c = s_[pos_];
        auto single = [&](Tok kind, std::size_t length) {
            t.kind = kind;
            t.raw = s_.substr(pos_, length);
            pos_ += length;
            return t;
        };
        auto peek = [&](std::size_t ahead) {
            return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0';
        };
        switch (c) {
        case '(': return single(Tok::LParen, 1);
        case ')': return single(Tok::RParen, 1);
        case ',': return single(Tok::Comma, 1);
        case '.':
            if (!is_digit(peek(1))) {
                return single(Tok::Dot, 1);
            }
            break;
        case '=': return single(Tok::Eq, peek(1) == '=' ? 2 : 1);
        case '!':
            if (peek(1) == '=') {
                return single(Tok::Ne, 2);
            }
            return std::unexpected(ExprError{pos_, "unexpected '!'; write != or not"});
        case '<':
            if (peek(1) == '=') {
                return single(Tok::Le, 2);
            }
            if (peek(1) == '>') {
                return single(Tok::Ne, 2);
            }
            return single(Tok::Lt, 1);
        case '>': return single(peek(1) == '=' ? Tok::Ge : Tok::Gt, peek(1) == '=' ? 2 : 1);
        case '\'': return quoted(t, '\'', Tok::String);
        case '"': return quoted(t, '"', Tok::QIdent);
        case '&':
        case '|':
            return std::unexpected(ExprError{pos_, std::string("unexpected '") + c + "'; write " +
                                                       (c == '&' ? "and" : "or")});
        default: break;
        }
        if (is_digit(c) || c == '.' || (c == '-' && (is_digit(peek(1)) || peek(1) == '.'))) {
            return number(t);
        }
        if (is_name_start(c)) {
            const std::size_t start = pos_;
            while (pos_ < s_.size() && is_name_char(s_[pos_])) {
                ++pos_;
            }
            t.kind = Tok::Ident;
            t.raw = s_.substr(start, pos_ - start);
            t.value.reserve(t.raw.size());
            for (char ch : t.raw) {
                t.value += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
            }
            return t;
        }
        std::string shown = (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                                ? "a control character"
                                : "'" + std::string(1, c) + "'";
        if (static_cast<unsigned char>(c) >= 0x80) {
            shown = "a non-ASCII character; quote names that have one in double quotes";
        }
        return std::unexpected(ExprError{pos_, "unexpected " + shown});
    }

private:
    static bool is_name_start(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }
    static bool is_name_char(char c) { return is_name_start(c) || is_digit(c) || c == '$'; }

    std::expected<Token, ExprError> quoted(Token t, char quote, Tok kind) {
        const std::size_t start = pos_++;
        while (pos_ < s_.size()) {
            if (s_[pos_] == quote) {
                if (pos_ + 1 < s_.size() && s_[pos_ + 1] == quote) {
                    t.value += quote; // doubled: one literal quote
                    pos_ += 2;
                    continue;
                }
                ++pos_;
                t.kind = kind;
                t.raw = s_.substr(start, pos_ - start);
                if (kind == Tok::QIdent && t.value.empty()) {
                    return std::unexpected(ExprError{start, "empty quoted name \"\""});
                }
                return t;
            }
            t.value += s_[pos_++];
        }
        return std::unexpected(ExprError{
            start, kind == Tok::String
                       ? "unterminated string; close it with ' (write '' for a quote inside it)"
                       : "unterminated quoted name; close it with \""});
    }

    std::expected<Token, ExprError> number(Token t) {
        const std::size_t start = pos_;
        if (s_[pos_] == '-') {
            ++pos_;
        }
        while (pos_ < s_.size() &&
               (is_digit(s_[pos_]) || s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E' ||
                ((s_[pos_] == '+' || s_[pos_] == '-') &&
                 (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E')))) {
            ++pos_;
        }
        t.kind = Tok::Number;
        t.raw = s_.substr(start, pos_ - start);
        // JSON's number syntax, so that a literal can be written into a payload as it is.
        std::string_view r = t.raw;
        std::size_t i = r.front() == '-' ? 1 : 0;
        bool ok = i < r.size() && is_digit(r[i]);
        if (ok && r[i] == '0' && i + 1 < r.size() && is_digit(r[i + 1])) {
            ok = false; // leading zero
        }
        Decimal d;
        if (!ok || !parse_decimal(r, d) || r.back() == '.' || r.find(".e") != r.npos ||
            r.find(".E") != r.npos) {
            return std::unexpected(ExprError{start, "invalid number '" + std::string(r) +
                                                        "'; write it as 12, 12.5, "
                                                        "-0.5 or 1.5e3"});
        }
        t.value = std::string(r);
        return t;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

// ---- syntax tree -----------------------------------------------------------------------------

enum class Meta : std::uint8_t {
    Op,
    Schema,
    Table,
    Xid,
    Lsn,
    CommitTime,
    Prefix,
    Content,
    Transactional,
};

struct MetaName {
    std::string_view name;
    Meta meta;
    ValueType type;
    bool row;     // available in Scope::Row
    bool message; // available in Scope::Message
};

constexpr std::array<MetaName, 9> kMetaNames{{
    {"op", Meta::Op, ValueType::String, true, true},
    {"schema", Meta::Schema, ValueType::String, true, false},
    {"table", Meta::Table, ValueType::String, true, false},
    {"xid", Meta::Xid, ValueType::Number, true, true},
    {"lsn", Meta::Lsn, ValueType::String, true, true},
    {"commit_time", Meta::CommitTime, ValueType::String, true, true},
    {"prefix", Meta::Prefix, ValueType::String, false, true},
    {"content", Meta::Content, ValueType::String, false, true},
    {"transactional", Meta::Transactional, ValueType::Bool, false, true},
}};

enum class Func : std::uint8_t { Lower, Upper, Coalesce, Length, Json, Changed };

struct FuncName {
    std::string_view name;
    Func func;
    std::size_t min_args;
    std::size_t max_args;
};

constexpr std::array<FuncName, 6> kFuncNames{{
    {"lower", Func::Lower, 1, 1},
    {"upper", Func::Upper, 1, 1},
    {"coalesce", Func::Coalesce, 1, 64},
    {"length", Func::Length, 1, 1},
    {"json", Func::Json, 1, 1},
    {"changed", Func::Changed, 1, 1},
}};

enum class NodeKind : std::uint8_t {
    Literal,
    Column,
    Meta,
    Not,
    And,
    Or,
    Compare,
    IsNull,
    In,
    Call,
};

enum class CmpOp : std::uint8_t { Eq, Ne, Lt, Le, Gt, Ge };

struct Node {
    NodeKind kind = NodeKind::Literal;
    ValueType type = ValueType::Unknown;
    std::size_t offset = 0;
    // Literal
    Datum literal;
    // Column: the column slot, old or new image
    std::size_t slot = 0;
    bool old = false;
    // Meta
    Meta meta = Meta::Op;
    // Compare, IsNull (negated: is not null), In (negated: not in)
    CmpOp cmp = CmpOp::Eq;
    bool negated = false;
    // Call
    Func func = Func::Lower;
    std::vector<std::size_t> children;
};

constexpr int kMaxDepth = 64;

} // namespace

struct Expr::Impl {
    std::string text;
    std::vector<Node> nodes;
    std::size_t root = 0;
    std::vector<ColumnUse> columns;
    std::vector<std::string> column_names; // distinct names; a Column node's slot indexes this
    std::vector<std::string> literals;     // storage for literal text (stable: reserved)
    std::vector<std::string> scratch;      // one per node, for computed text

    // Column slots bound to the relation the last change had: the column's position and the
    // value type of its PostgreSQL type.
    std::shared_ptr<const Relation> bound;
    std::vector<int> index;
    std::vector<ValueType> slot_types;
    // The column slot of a changed(col) that decides the condition alone when false: the whole
    // condition, or the first operand of its top-level `and`. -1 when there is none.
    int guard = -1;

    bool eval(std::size_t n, const ChangeEvent& change, const pg::TypeRegistry& types, Datum& out,
              std::string& error);
    bool bind(const ChangeEvent& change, const pg::TypeRegistry& types, std::string& error);
    bool column(const Node& node, const ChangeEvent& change, const pg::TypeRegistry& types,
                Datum& out, std::string& error);
    // An operand: a column or a literal directly, anything else through eval.
    bool operand(std::size_t n, const ChangeEvent& change, const pg::TypeRegistry& types,
                 Datum& out, std::string& error) {
        const Node& node = nodes[n];
        if (node.kind == NodeKind::Column) {
            return column(node, change, types, out, error);
        }
        if (node.kind == NodeKind::Literal) {
            out = node.literal;
            return true;
        }
        return eval(n, change, types, out, error);
    }
};

namespace {

bool looks_numeric(std::string_view text) {
    Decimal d;
    return parse_decimal(text, d);
}

std::string quote_name(std::string_view name) {
    return "'" + std::string(name) + "'";
}

std::string table_name(const Relation& rel) {
    return rel.schema + "." + rel.table;
}

class Parser {
public:
    Parser(std::string_view text, const CompileOptions& options, Expr::Impl& impl)
        : lexer_(text), options_(options), impl_(impl) {}

    std::expected<std::size_t, ExprError> parse() {
        if (auto ok = advance(); !ok) {
            return std::unexpected(ok.error());
        }
        if (tok_.kind == Tok::End) {
            return std::unexpected(ExprError{0, "empty expression"});
        }
        auto root = parse_or(0);
        if (!root) {
            return root;
        }
        if (tok_.kind != Tok::End) {
            return fail_here("unexpected " + std::string(describe(tok_)) +
                             "; expected an operator such as and, or, = or the end");
        }
        return root;
    }

private:
    using R = std::expected<std::size_t, ExprError>;

    std::expected<void, ExprError> advance() {
        auto t = lexer_.next();
        if (!t) {
            return std::unexpected(t.error());
        }
        tok_ = std::move(*t);
        return {};
    }

    std::unexpected<ExprError> fail_here(std::string message) const {
        return std::unexpected(ExprError{tok_.offset, std::move(message)});
    }
    static std::unexpected<ExprError> fail_at(std::size_t offset, std::string message) {
        return std::unexpected(ExprError{offset, std::move(message)});
    }

    bool is_word(std::string_view word) const {
        return tok_.kind == Tok::Ident && tok_.value == word;
    }

    std::size_t add(Node node) {
        impl_.nodes.push_back(std::move(node));
        return impl_.nodes.size() - 1;
    }
    Node& node(std::size_t i) { return impl_.nodes[i]; }

    std::expected<void, ExprError> expect_condition(std::size_t n, std::string_view what) {
        const ValueType t = node(n).type;
        if (t != ValueType::Bool && t != ValueType::Unknown && t != ValueType::Null) {
            return fail_at(node(n).offset, std::string(what) + " needs a condition (true or " +
                                               "false), got a " + std::string(to_string(t)));
        }
        return {};
    }

    R parse_or(int depth) {
        auto left = parse_and(depth);
        while (left && is_word("or")) {
            const std::size_t at = tok_.offset;
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            auto right = parse_and(depth);
            if (!right) return right;
            left = logical(NodeKind::Or, at, *left, *right);
        }
        return left;
    }

    R parse_and(int depth) {
        auto left = parse_not(depth);
        while (left && is_word("and")) {
            const std::size_t at = tok_.offset;
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            auto right = parse_not(depth);
            if (!right) return right;
            left = logical(NodeKind::And, at, *left, *right);
        }
        return left;
    }

    R logical(NodeKind kind, std::size_t at, std::size_t left, std::size_t right) {
        const std::string_view word = kind == NodeKind::And ? "and" : "or";
        if (auto ok = expect_condition(left, word); !ok) return std::unexpected(ok.error());
        if (auto ok = expect_condition(right, word); !ok) return std::unexpected(ok.error());
        if (node(left).kind == kind) {
            // a and b and c: one node with three operands, so that evaluating a long chain
            // does not recurse once per operand.
            node(left).children.push_back(right);
            return left;
        }
        Node n;
        n.kind = kind;
        n.type = ValueType::Bool;
        n.offset = at;
        n.children = {left, right};
        return add(std::move(n));
    }

    R parse_not(int depth) {
        if (depth > kMaxDepth) {
            return fail_here("expression nested too deeply (more than 64 levels)");
        }
        if (is_word("not")) {
            const std::size_t at = tok_.offset;
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            auto operand = parse_not(depth + 1);
            if (!operand) return operand;
            if (auto ok = expect_condition(*operand, "not"); !ok) {
                return std::unexpected(ok.error());
            }
            Node n;
            n.kind = NodeKind::Not;
            n.type = ValueType::Bool;
            n.offset = at;
            n.children = {*operand};
            return add(std::move(n));
        }
        return parse_comparison(depth);
    }

    static bool comparable(ValueType a, ValueType b) {
        return a == ValueType::Unknown || b == ValueType::Unknown || a == ValueType::Null ||
               b == ValueType::Null || a == b;
    }

    std::expected<void, ExprError> check_comparable(std::size_t left, std::size_t right,
                                                    std::size_t at) {
        const ValueType a = node(left).type;
        const ValueType b = node(right).type;
        if (!comparable(a, b)) {
            return fail_at(at, "cannot compare a " + std::string(to_string(a)) + " with a " +
                                   std::string(to_string(b)) +
                                   (b == ValueType::String && a == ValueType::Number &&
                                            node(right).kind == NodeKind::Literal &&
                                            looks_numeric(impl_.literals[node(right).slot])
                                        ? "; write the number without quotes"
                                        : std::string()));
        }
        return {};
    }

    R parse_comparison(int depth) {
        auto left = parse_primary(depth);
        if (!left) return left;
        static constexpr std::array<std::pair<Tok, CmpOp>, 6> kOps{{{Tok::Eq, CmpOp::Eq},
                                                                    {Tok::Ne, CmpOp::Ne},
                                                                    {Tok::Lt, CmpOp::Lt},
                                                                    {Tok::Le, CmpOp::Le},
                                                                    {Tok::Gt, CmpOp::Gt},
                                                                    {Tok::Ge, CmpOp::Ge}}};
        for (const auto& [tok, op] : kOps) {
            if (tok_.kind != tok) {
                continue;
            }
            const std::size_t at = tok_.offset;
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            auto right = parse_primary(depth);
            if (!right) return right;
            if (auto ok = check_comparable(*left, *right, at); !ok) {
                return std::unexpected(ok.error());
            }
            const ValueType a = node(*left).type;
            const ValueType b = node(*right).type;
            if (op != CmpOp::Eq && op != CmpOp::Ne &&
                (a == ValueType::Bool || a == ValueType::Json || b == ValueType::Bool ||
                 b == ValueType::Json)) {
                return fail_at(at, "cannot order " +
                                       std::string(to_string(
                                           a == ValueType::Bool || a == ValueType::Json ? a : b)) +
                                       " values; compare them with = or !=");
            }
            Node n;
            n.kind = NodeKind::Compare;
            n.type = ValueType::Bool;
            n.offset = at;
            n.cmp = op;
            n.children = {*left, *right};
            return add(std::move(n));
        }
        if (is_word("is")) {
            const std::size_t at = tok_.offset;
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            bool negated = false;
            if (is_word("not")) {
                negated = true;
                if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            }
            if (!is_word("null")) {
                return fail_here("expected null after 'is" + std::string(negated ? " not" : "") +
                                 "', got " + std::string(describe(tok_)));
            }
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            Node n;
            n.kind = NodeKind::IsNull;
            n.type = ValueType::Bool;
            n.offset = at;
            n.negated = negated;
            n.children = {*left};
            return add(std::move(n));
        }
        bool negated = false;
        std::size_t at = tok_.offset;
        if (is_word("not")) {
            // "x not in (...)"; a bare "not" here is an error below.
            negated = true;
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            if (!is_word("in")) {
                return fail_here("expected in after 'not', got " + std::string(describe(tok_)));
            }
        }
        if (is_word("in")) {
            at = negated ? at : tok_.offset;
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            if (tok_.kind != Tok::LParen) {
                return fail_here("expected ( after in, got " + std::string(describe(tok_)));
            }
            Node n;
            n.kind = NodeKind::In;
            n.type = ValueType::Bool;
            n.offset = at;
            n.negated = negated;
            n.children.push_back(*left);
            do {
                if (auto ok = advance(); !ok) return std::unexpected(ok.error());
                auto item = parse_primary(depth);
                if (!item) return item;
                if (auto ok = check_comparable(*left, *item, node(*item).offset); !ok) {
                    return std::unexpected(ok.error());
                }
                n.children.push_back(*item);
            } while (tok_.kind == Tok::Comma);
            if (tok_.kind != Tok::RParen) {
                return fail_here("expected , or ) in the in (...) list, got " +
                                 std::string(describe(tok_)));
            }
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            return add(std::move(n));
        }
        return left;
    }

    std::size_t literal(ValueType type, std::string text, bool boolean, std::size_t offset) {
        impl_.literals.push_back(std::move(text));
        Node n;
        n.kind = NodeKind::Literal;
        n.type = type;
        n.offset = offset;
        n.literal.type = type;
        n.literal.boolean = boolean;
        // Views into `literals` are taken after parsing (the vector may still grow).
        n.slot = impl_.literals.size() - 1;
        return add(std::move(n));
    }

    R parse_primary(int depth) {
        if (depth > kMaxDepth) {
            return fail_here("expression nested too deeply (more than 64 levels)");
        }
        const Token t = tok_;
        switch (t.kind) {
        case Tok::End: return fail_here("expected a value, got the end of the expression");
        case Tok::LParen: {
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            auto inner = parse_or(depth + 1);
            if (!inner) return inner;
            if (tok_.kind != Tok::RParen) {
                return fail_here("expected ) to close an earlier (, got " +
                                 std::string(describe(tok_)));
            }
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            return inner;
        }
        case Tok::Number: {
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            return literal(ValueType::Number, t.value, false, t.offset);
        }
        case Tok::String: {
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            return literal(ValueType::String, t.value, false, t.offset);
        }
        case Tok::QIdent:
            return fail_here("a quoted name (" + std::string(t.raw) +
                             ") must follow new. or old.; write strings in single quotes");
        case Tok::Ident: break;
        default:
            return fail_here("expected a value (a column, a literal or a function), got " +
                             std::string(describe(t)));
        }
        if (auto ok = advance(); !ok) return std::unexpected(ok.error());
        if (t.value == "null") {
            return literal(ValueType::Null, {}, false, t.offset);
        }
        if (t.value == "true" || t.value == "false") {
            return literal(ValueType::Bool, {}, t.value == "true", t.offset);
        }
        if (t.value == "new" || t.value == "old") {
            return parse_column(t);
        }
        if (tok_.kind == Tok::LParen) {
            return parse_call(t, depth);
        }
        for (const MetaName& m : kMetaNames) {
            if (m.name != t.value) {
                continue;
            }
            if ((options_.scope == Scope::Row && !m.row) ||
                (options_.scope == Scope::Message && !m.message)) {
                return fail_at(t.offset, quote_name(t.raw) + " is not available in " +
                                             (options_.scope == Scope::Row
                                                  ? "a rule on table changes"
                                                  : "a rule on logical decoding messages"));
            }
            Node n;
            n.kind = NodeKind::Meta;
            n.type = m.type;
            n.offset = t.offset;
            n.meta = m.meta;
            return add(std::move(n));
        }
        const std::string raw(t.raw);
        std::string message = "unknown name " + quote_name(t.raw) + "; ";
        message += options_.scope == Scope::Row
                       ? "a column is written new." + raw + " or old." + raw + ", a string '" +
                             raw +
                             "' in single quotes; the other names are op, schema, table, "
                             "xid, lsn and commit_time"
                       : "a string is written in single quotes ('" + raw +
                             "'); a message rule knows prefix, content, transactional, op, xid, "
                             "lsn and commit_time";
        return fail_at(t.offset, std::move(message));
    }

    // After new/old: ".column".
    R parse_column(const Token& image) {
        const bool old = image.value == "old";
        if (options_.scope == Scope::Message) {
            return fail_at(image.offset, "a rule on logical decoding messages has no columns");
        }
        if (tok_.kind != Tok::Dot) {
            return fail_here("expected . and a column name after '" + std::string(image.raw) + "'");
        }
        if (auto ok = advance(); !ok) return std::unexpected(ok.error());
        if (tok_.kind != Tok::Ident && tok_.kind != Tok::QIdent) {
            return fail_here("expected a column name after '" + std::string(image.raw) +
                             ".', got " + std::string(describe(tok_)));
        }
        const Token name = tok_;
        if (auto ok = advance(); !ok) return std::unexpected(ok.error());
        if (!options_.no_columns.empty()) {
            return fail_at(image.offset, std::string(options_.no_columns));
        }
        if (old && !options_.allow_old) {
            return fail_at(image.offset,
                           "old.<column> needs a rule whose operations all have an old row: "
                           "operations: [update], [delete] or [update, delete]; an insert has "
                           "only new.<column>");
        }
        if (!old && !options_.allow_new) {
            return fail_at(image.offset,
                           "new.<column> needs a rule whose operations all have a new row: "
                           "operations: [insert], [update] or [insert, update] (the default, "
                           "insert, update and delete, includes deletes, which have only "
                           "old.<column>)");
        }
        return column_node(name.value, old, image.offset, false);
    }

    R column_node(const std::string& name, bool old, std::size_t offset, bool for_changed) {
        ValueType type = ValueType::Unknown;
        if (const Relation* rel = options_.relation) {
            const pg::TypeRegistry& types =
                options_.types != nullptr ? *options_.types : pg::TypeRegistry::builtins();
            const auto it = std::ranges::find(rel->columns, name, &Column::name);
            if (it == rel->columns.end()) {
                return fail_at(offset, "table " + table_name(*rel) + " has no column " +
                                           quote_name(name) + suggestion(*rel, name));
            }
            type = value_type_of(it->type_oid, types);
            if (old && rel->identity != ReplicaIdentity::Full && !it->key) {
                return fail_at(
                    offset, std::string(for_changed ? "changed(" + name + ")" : "old." + name) +
                                " needs the old value of a column outside the replica "
                                "identity of " +
                                table_name(*rel) +
                                ", which PostgreSQL does not log; run ALTER TABLE " +
                                sql_table_name(rel->schema, rel->table) + " REPLICA IDENTITY FULL");
            }
        }
        std::size_t slot = 0;
        const auto found = std::ranges::find(impl_.column_names, name);
        if (found == impl_.column_names.end()) {
            impl_.column_names.push_back(name);
            slot = impl_.column_names.size() - 1;
        } else {
            slot = static_cast<std::size_t>(found - impl_.column_names.begin());
        }
        impl_.columns.push_back(ColumnUse{name, old, offset});
        Node n;
        n.kind = NodeKind::Column;
        n.type = type;
        n.offset = offset;
        n.slot = slot;
        n.old = old;
        return add(std::move(n));
    }

    static std::string suggestion(const Relation& rel, std::string_view name) {
        std::vector<std::string_view> names;
        names.reserve(rel.columns.size());
        for (const Column& c : rel.columns) {
            names.push_back(c.name);
        }
        const std::string_view match = closest_match(name, names);
        return match.empty() ? std::string() : " (did you mean '" + std::string(match) + "'?)";
    }

    R parse_call(const Token& name, int depth) {
        const FuncName* f = nullptr;
        for (const FuncName& candidate : kFuncNames) {
            if (candidate.name == name.value) {
                f = &candidate;
            }
        }
        if (f == nullptr) {
            return fail_at(name.offset, "unknown function " + quote_name(name.raw) +
                                            "; the functions are lower, upper, coalesce, "
                                            "length, json and changed");
        }
        // tok_ is "("
        if (auto ok = advance(); !ok) return std::unexpected(ok.error());
        Node n;
        n.kind = NodeKind::Call;
        n.func = f->func;
        n.offset = name.offset;
        if (f->func == Func::Changed) {
            if (options_.scope == Scope::Message) {
                return fail_at(name.offset, "changed() needs a row change");
            }
            if (!options_.allow_old || !options_.allow_new) {
                return fail_at(name.offset, "changed() compares old and new values: it needs a "
                                            "rule whose operations are update only");
            }
            if (tok_.kind != Tok::Ident && tok_.kind != Tok::QIdent) {
                return fail_here("changed() takes a column name, as in changed(price)");
            }
            const Token column = tok_;
            if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            auto old_node = column_node(column.value, true, column.offset, true);
            if (!old_node) return old_node;
            auto new_node = column_node(column.value, false, column.offset, true);
            if (!new_node) return new_node;
            n.children = {*old_node, *new_node};
            n.type = ValueType::Bool;
        } else if (tok_.kind != Tok::RParen) {
            while (true) {
                auto arg = parse_or(depth + 1);
                if (!arg) return arg;
                n.children.push_back(*arg);
                if (tok_.kind != Tok::Comma) {
                    break;
                }
                if (auto ok = advance(); !ok) return std::unexpected(ok.error());
            }
        }
        if (tok_.kind != Tok::RParen) {
            return fail_here("expected , or ) in the arguments of " + std::string(f->name) +
                             "(), got " + std::string(describe(tok_)));
        }
        if (auto ok = advance(); !ok) return std::unexpected(ok.error());
        if (f->func != Func::Changed &&
            (n.children.size() < f->min_args || n.children.size() > f->max_args)) {
            return fail_at(name.offset, std::string(f->name) + "() takes " +
                                            (f->min_args == f->max_args ? "one argument"
                                                                        : "one or more arguments") +
                                            ", got " + std::to_string(n.children.size()));
        }
        auto arg_type = [&](std::size_t i) { return node(n.children[i]).type; };
        switch (f->func) {
        case Func::Lower:
        case Func::Upper:
        case Func::Length: {
            const ValueType t = arg_type(0);
            if (t != ValueType::String && t != ValueType::Unknown && t != ValueType::Null) {
                return fail_at(node(n.children[0]).offset, std::string(f->name) +
                                                               "() takes a string, got a " +
                                                               std::string(to_string(t)));
            }
            n.type = f->func == Func::Length ? ValueType::Number : ValueType::String;
            break;
        }
        case Func::Json: n.type = ValueType::Json; break;
        case Func::Coalesce: {
            n.type = ValueType::Null;
            for (std::size_t i = 0; i < n.children.size(); ++i) {
                const ValueType t = arg_type(i);
                if (n.type == ValueType::Null) {
                    n.type = t;
                } else if (t != ValueType::Null && t != n.type) {
                    n.type = ValueType::Unknown;
                }
            }
            break;
        }
        case Func::Changed: break;
        }
        return add(std::move(n));
    }

    Lexer lexer_;
    const CompileOptions& options_;
    Expr::Impl& impl_;
    Token tok_;
};

} // namespace

std::expected<Expr, ExprError> Expr::compile(std::string_view text, const CompileOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->text = std::string(text);
    Parser parser(impl->text, options, *impl);
    auto root = parser.parse();
    if (!root) {
        return std::unexpected(root.error());
    }
    impl->root = *root;
    for (Node& n : impl->nodes) {
        if (n.kind == NodeKind::Literal) {
            n.literal.text = impl->literals[n.slot];
        }
    }
    impl->scratch.resize(impl->nodes.size());
    const Node* first = &impl->nodes[impl->root];
    if (first->kind == NodeKind::And) {
        first = &impl->nodes[first->children[0]];
    }
    if (first->kind == NodeKind::Call && first->func == Func::Changed) {
        impl->guard = static_cast<int>(impl->nodes[first->children[1]].slot);
    }
    return Expr(std::move(impl));
}

Expr::Expr(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Expr::Expr(Expr&&) noexcept = default;
Expr& Expr::operator=(Expr&&) noexcept = default;
Expr::~Expr() = default;

ValueType Expr::type() const {
    return impl_->nodes[impl_->root].type;
}

const std::vector<ColumnUse>& Expr::columns() const {
    return impl_->columns;
}

std::string_view Expr::text() const {
    return impl_->text;
}

bool Expr::eval(const ChangeEvent& change, const pg::TypeRegistry& types, Datum& out,
                std::string& error) {
    if (!impl_->column_names.empty() && !impl_->bind(change, types, error)) {
        return false;
    }
    return impl_->eval(impl_->root, change, types, out, error);
}

namespace {

// a == b for the short texts column values mostly are, without a call to memcmp.
bool same_text(std::string_view a, std::string_view b) {
    const std::size_t n = a.size();
    if (n != b.size()) {
        return false;
    }
    if (n >= 8 && n <= 16) {
        std::uint64_t a0 = 0;
        std::uint64_t b0 = 0;
        std::uint64_t a1 = 0;
        std::uint64_t b1 = 0;
        std::memcpy(&a0, a.data(), 8);
        std::memcpy(&b0, b.data(), 8);
        std::memcpy(&a1, a.data() + n - 8, 8);
        std::memcpy(&b1, b.data() + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n < 8) {
        for (std::size_t i = 0; i < n; ++i) {
            if (a[i] != b[i]) {
                return false;
            }
        }
        return true;
    }
    return std::memcmp(a.data(), b.data(), n) == 0;
}

} // namespace

bool Expr::test(const ChangeEvent& change, const pg::TypeRegistry& types, bool& out,
                std::string& error) {
    // The common `changed(col) and ...` of an update that left col byte for byte as it was is
    // false without walking the expression (evaluated, it would stop at that operand too).
    if (impl_->guard >= 0 && change.op == Operation::Update &&
        change.before.kind == TupleKind::Old && change.after.kind == TupleKind::New &&
        impl_->bound == change.relation) {
        const int i = impl_->index[static_cast<std::size_t>(impl_->guard)];
        const auto col = static_cast<std::size_t>(i);
        if (i >= 0 && col < change.before.values.size() && col < change.after.values.size()) {
            const Value& a = change.before.values[col];
            const Value& b = change.after.values[col];
            if (a.kind == b.kind && a.kind != ValueKind::Unchanged && same_text(a.data, b.data)) {
                out = false;
                return true;
            }
        }
    }
    Datum d;
    if (!eval(change, types, d, error)) {
        return false;
    }
    if (d.type != ValueType::Bool && d.type != ValueType::Null) {
        error = "the condition gave a " + std::string(to_string(d.type)) + ", not true or false";
        return false;
    }
    out = d.type == ValueType::Bool && d.boolean;
    return true;
}

bool Expr::Impl::bind(const ChangeEvent& change, const pg::TypeRegistry& types,
                      std::string& error) {
    if (!change.relation) {
        error = "the change has no table";
        return false;
    }
    if (bound == change.relation) {
        return true;
    }
    index.assign(column_names.size(), -1);
    slot_types.assign(column_names.size(), ValueType::String);
    const auto& cols = change.relation->columns;
    for (std::size_t s = 0; s < column_names.size(); ++s) {
        for (std::size_t i = 0; i < cols.size(); ++i) {
            if (cols[i].name == column_names[s]) {
                index[s] = static_cast<int>(i);
                slot_types[s] = value_type_of(cols[i].type_oid, types);
                break;
            }
        }
    }
    bound = change.relation;
    return true;
}

namespace {

std::string replica_identity_fix(const Relation& rel) {
    return "; run ALTER TABLE " + sql_table_name(rel.schema, rel.table) +
           " REPLICA IDENTITY FULL to have PostgreSQL log old values";
}

// Whether two values of a column are the same value: numbers by their value (19.99 and 19.990
// are the same price), everything else by its text.
bool values_equal(const Value& a, const Value& b, ValueType type) {
    if (a.kind != b.kind) {
        return false;
    }
    if (same_text(a.data, b.data)) {
        return true; // the same text is the same value, whatever the type
    }
    int c = 0;
    if (a.kind == ValueKind::Text && type == ValueType::Number &&
        compare_numbers(a.data, b.data, c)) {
        return c == 0;
    }
    return false;
}

} // namespace

bool Expr::Impl::column(const Node& node, const ChangeEvent& change,
                        const pg::TypeRegistry& /*types*/, Datum& out, std::string& error) {
    const Relation& rel = *change.relation;
    const int i = index[node.slot];
    const std::string& name = column_names[node.slot];
    if (i < 0) {
        error = "table " + rel.schema + "." + rel.table + " has no column '" + name +
                "' (was it dropped or renamed?)";
        return false;
    }
    const auto col = static_cast<std::size_t>(i);
    const Value* v = nullptr;
    if (!node.old) {
        if (change.after.kind != TupleKind::New || col >= change.after.values.size()) {
            error = "new." + name + " is not available for a " + std::string(to_string(change.op));
            return false;
        }
        v = &change.after.values[col];
    } else if (change.before.present() && col < change.before.values.size() &&
               (change.before.kind == TupleKind::Old || rel.columns[col].key)) {
        v = &change.before.values[col];
    } else if (change.op == Operation::Update && !change.before.present() && rel.columns[col].key &&
               col < change.after.values.size()) {
        // PostgreSQL logs no old key when the key did not change: it equals the new one.
        v = &change.after.values[col];
    } else {
        error = "old." + name + " is not available: it is not part of the replica identity of " +
                rel.schema + "." + rel.table + replica_identity_fix(rel);
        return false;
    }
    switch (v->kind) {
    case ValueKind::Null: out = Datum{}; return true;
    case ValueKind::Unchanged:
        error = std::string(node.old ? "old." : "new.") + name +
                " is an unchanged TOAST value, which PostgreSQL did not send" +
                replica_identity_fix(rel);
        return false;
    case ValueKind::Text:
    case ValueKind::Binary: break;
    }
    out.type_oid = rel.columns[col].type_oid;
    out.type = slot_types[node.slot];
    out.boolean = out.type == ValueType::Bool && v->data == "t";
    out.text = v->data;
    return true;
}

namespace {

bool compare(const Datum& a, const Datum& b, CmpOp op, bool& out, std::string& error) {
    if (a.type == ValueType::Null || b.type == ValueType::Null) {
        const bool both = a.type == b.type;
        out = op == CmpOp::Eq ? both : (op == CmpOp::Ne ? !both : false);
        return true;
    }
    int c = 0;
    if (a.type != b.type) {
        error = "cannot compare a " + std::string(to_string(a.type)) + " with a " +
                std::string(to_string(b.type));
        return false;
    }
    switch (a.type) {
    case ValueType::Number:
        if (a.text == b.text) {
            c = 0; // the same text is the same number (and spares parsing it)
        } else if (!compare_numbers(a.text, b.text, c)) {
            error = "not a number: '" +
                    std::string(compare_numbers(a.text, a.text, c) ? b.text : a.text) + "'";
            return false;
        }
        break;
    case ValueType::Bool: c = a.boolean == b.boolean ? 0 : (a.boolean ? 1 : -1); break;
    default: c = a.text.compare(b.text); break;
    }
    switch (op) {
    case CmpOp::Eq: out = c == 0; break;
    case CmpOp::Ne: out = c != 0; break;
    case CmpOp::Lt: out = c < 0; break;
    case CmpOp::Le: out = c <= 0; break;
    case CmpOp::Gt: out = c > 0; break;
    case CmpOp::Ge: out = c >= 0; break;
    }
    return true;
}

bool as_condition(const Datum& d, bool& out, std::string& error) {
    if (d.type == ValueType::Null) {
        out = false;
        return true;
    }
    if (d.type != ValueType::Bool) {
        error = "expected true or false, got a " + std::string(to_string(d.type));
        return false;
    }
    out = d.boolean;
    return true;
}

// Case mapping for ASCII letters; other characters are kept (PostgreSQL's lower() under the C
// collation does the same).
void map_case(std::string& out, std::string_view in, bool upper) {
    out.assign(in);
    const char from = upper ? 'a' : 'A';
    const char to = upper ? 'A' : 'a';
    for (char& c : out) {
        if (c >= from && c <= from + 25) {
            c = static_cast<char>(c - from + to);
        }
    }
}

} // namespace

bool Expr::Impl::eval(std::size_t n, const ChangeEvent& change, const pg::TypeRegistry& types,
                      Datum& out, std::string& error) {
    const Node& node = nodes[n];
    std::string& buf = scratch[n];
    switch (node.kind) {
    case NodeKind::Literal: out = node.literal; return true;
    case NodeKind::Column: return column(node, change, types, out, error);
    case NodeKind::Meta: {
        out = Datum{};
        out.type = node.type;
        switch (node.meta) {
        case Meta::Op: out.text = to_string(change.op); break;
        case Meta::Schema:
        case Meta::Table:
            if (!change.relation) {
                out.type = ValueType::Null;
                break;
            }
            out.text = node.meta == Meta::Schema ? change.relation->schema : change.relation->table;
            break;
        case Meta::Xid: {
            buf.resize(16);
            auto r = std::to_chars(buf.data(), buf.data() + buf.size(), change.xid);
            buf.resize(static_cast<std::size_t>(r.ptr - buf.data()));
            out.text = buf;
            break;
        }
        case Meta::Lsn: {
            buf.clear();
            change.lsn.append_to(buf);
            out.text = buf;
            break;
        }
        case Meta::CommitTime:
            if (change.op == Operation::Message && !change.transactional) {
                out.type = ValueType::Null; // sent outside any transaction: no commit time
                break;
            }
            buf = pg::format_utc_timestamp(change.commit_time_us);
            out.text = buf;
            break;
        case Meta::Prefix: out.text = change.prefix; break;
        case Meta::Content: out.text = change.content; break;
        case Meta::Transactional: out.boolean = change.transactional; break;
        }
        return true;
    }
    case NodeKind::Not: {
        Datum d;
        bool b = false;
        if (!eval(node.children[0], change, types, d, error) || !as_condition(d, b, error)) {
            return false;
        }
        out = Datum{ValueType::Bool, !b, {}, 0};
        return true;
    }
    case NodeKind::And:
    case NodeKind::Or: {
        // Short-circuit: the operands after the one that decides are not evaluated.
        const bool is_and = node.kind == NodeKind::And;
        bool b = is_and;
        for (std::size_t child : node.children) {
            Datum d;
            if (!eval(child, change, types, d, error) || !as_condition(d, b, error)) {
                return false;
            }
            if (b != is_and) {
                break;
            }
        }
        out = Datum{ValueType::Bool, b, {}, 0};
        return true;
    }
    case NodeKind::Compare: {
        Datum a;
        Datum b;
        bool r = false;
        if (!operand(node.children[0], change, types, a, error) ||
            !operand(node.children[1], change, types, b, error) ||
            !compare(a, b, node.cmp, r, error)) {
            return false;
        }
        out = Datum{ValueType::Bool, r, {}, 0};
        return true;
    }
    case NodeKind::IsNull: {
        Datum d;
        if (!operand(node.children[0], change, types, d, error)) {
            return false;
        }
        out = Datum{ValueType::Bool, (d.type == ValueType::Null) != node.negated, {}, 0};
        return true;
    }
    case NodeKind::In: {
        Datum left;
        if (!operand(node.children[0], change, types, left, error)) {
            return false;
        }
        bool found = false;
        for (std::size_t i = 1; i < node.children.size() && !found; ++i) {
            Datum item;
            if (!operand(node.children[i], change, types, item, error) ||
                !compare(left, item, CmpOp::Eq, found, error)) {
                return false;
            }
        }
        out = Datum{ValueType::Bool, found != node.negated, {}, 0};
        return true;
    }
    case NodeKind::Call: break;
    }

    switch (node.func) {
    case Func::Changed: {
        // children: the old and the new value of one column.
        const Node& old_node = nodes[node.children[0]];
        const Node& new_node = nodes[node.children[1]];
        const int i = index[new_node.slot];
        if (i >= 0 && change.op == Operation::Update && change.after.kind == TupleKind::New) {
            const auto col = static_cast<std::size_t>(i);
            const Relation& rel = *change.relation;
            if (col < change.after.values.size() &&
                change.after.values[col].kind == ValueKind::Unchanged) {
                // An unchanged TOAST value is, by definition, unchanged.
                out = Datum{ValueType::Bool, false, {}, 0};
                return true;
            }
            if (rel.columns[col].key && change.before.kind == TupleKind::None) {
                out = Datum{ValueType::Bool, false, {}, 0}; // no old key: the key did not change
                return true;
            }
            if (change.before.present() && col < change.before.values.size() &&
                (change.before.kind == TupleKind::Old || rel.columns[col].key)) {
                const ValueType type = slot_types[new_node.slot];
                out =
                    Datum{ValueType::Bool,
                          !values_equal(change.before.values[col], change.after.values[col], type),
                          {},
                          0};
                return true;
            }
        }
        Datum unused;
        if (!column(old_node, change, types, unused, error)) {
            error = "changed(" + column_names[new_node.slot] + "): " + error;
            return false;
        }
        if (change.op != Operation::Update) {
            error = "changed(" + column_names[new_node.slot] + ") needs an update, got a " +
                    std::string(to_string(change.op));
            return false;
        }
        return column(new_node, change, types, unused, error);
    }
    case Func::Coalesce:
        for (std::size_t child : node.children) {
            if (!eval(child, change, types, out, error)) {
                return false;
            }
            if (out.type != ValueType::Null) {
                return true;
            }
        }
        return true;
    default: break;
    }

    Datum arg;
    if (!operand(node.children[0], change, types, arg, error)) {
        return false;
    }
    if (arg.type == ValueType::Null) {
        out = Datum{};
        return true;
    }
    switch (node.func) {
    case Func::Lower:
    case Func::Upper:
    case Func::Length:
        if (arg.type != ValueType::String) {
            error = "expected a string, got a " + std::string(to_string(arg.type));
            return false;
        }
        if (node.func == Func::Length) {
            // Characters, as PostgreSQL's length() counts them: UTF-8 lead bytes.
            std::size_t count = 0;
            for (char c : arg.text) {
                count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
            }
            buf.resize(24);
            auto r = std::to_chars(buf.data(), buf.data() + buf.size(), count);
            buf.resize(static_cast<std::size_t>(r.ptr - buf.data()));
            out = Datum{ValueType::Number, false, buf, 0};
            return true;
        }
        map_case(buf, arg.text, node.func == Func::Upper);
        out = Datum{ValueType::String, false, buf, 0};
        return true;
    case Func::Json: {
        if (arg.type == ValueType::Json) {
            out = arg;
            out.type_oid = 0;
            return true;
        }
        bool line_break = false;
        if (arg.type != ValueType::String || !is_json_value(arg.text, buf, line_break)) {
            error = "json(): the value is not valid JSON";
            return false;
        }
        out = Datum{ValueType::Json, false, arg.text, 0};
        return true;
    }
    default: break;
    }
    error = "internal error: unknown function";
    return false;
}

void write_datum_json(std::string& out, const Datum& value, const pg::TypeRegistry& types,
                      const pg::JsonOptions& options) {
    if (value.type == ValueType::Null) {
        out += "null";
        return;
    }
    if (value.type_oid != 0) {
        pg::append_value_json(out, value.type_oid, value.text, types, options);
        return;
    }
    switch (value.type) {
    case ValueType::Bool: out += value.boolean ? "true" : "false"; break;
    case ValueType::Number: out += value.text; break;
    case ValueType::Json:
        if (!append_json_value(out, value.text)) {
            append_json_string(out, value.text); // checked by json() already; never here
        }
        break;
    default: append_json_string(out, value.text); break;
    }
}

void append_datum_text(std::string& out, const Datum& value) {
    switch (value.type) {
    case ValueType::Null: break;
    case ValueType::Bool: out += value.boolean ? "true" : "false"; break;
    default: out += value.text; break;
    }
}

} // namespace walbus::mappers
