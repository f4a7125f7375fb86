#include "walbus/mappers/rules.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>

// SHA1_Init and friends are deprecated in OpenSSL 3 in favour of EVP, which allocates a context
// for every digest; they are still the library's own SHA-1, without the allocation.
#define OPENSSL_API_COMPAT 0x10100000L
#include <openssl/sha.h>

#include "walbus/core/change_json.h"
#include "walbus/core/json_scan.h"
#include "walbus/core/json_writer.h"
#include "walbus/core/table_name.h"
#include "walbus/mappers/expr.h"

namespace walbus::mappers {

std::string uuid_v5(const std::array<unsigned char, 16>& ns, std::string_view name) {
    std::string out;
    uuid_v5(ns, name, out);
    return out;
}

std::array<unsigned char, 16> uuid_v5_bytes(const std::array<unsigned char, 16>& ns,
                                            std::string_view name) {
    // SHA-1's own context on the stack: the EVP interface allocates a context per digest.
    SHA_CTX ctx;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, ns.data(), ns.size());
    SHA1_Update(&ctx, name.data(), name.size());
    SHA1_Final(digest, &ctx);
    digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x50); // version 5
    digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80); // RFC 9562 variant
    std::array<unsigned char, 16> out{};
    std::copy_n(digest, out.size(), out.begin());
    return out;
}

void uuid_v5(const std::array<unsigned char, 16>& ns, std::string_view name, std::string& out) {
    const std::array<unsigned char, 16> id = uuid_v5_bytes(ns, name);
    static constexpr char kHex[] = "0123456789abcdef";
    char text[36];
    char* p = text;
    for (std::size_t i = 0; i < id.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }
        *p++ = kHex[id[i] >> 4];
        *p++ = kHex[id[i] & 0x0F];
    }
    out.assign(text, sizeof text);
}

namespace {

// Events are reused: a field often holds, from the previous event, the text it gets again.
void assign_if_different(std::string& out, std::string_view text) {
    if (std::string_view(out) != text) {
        out.assign(text);
    }
}

RuleProblem problem_at(const RuleText& text, std::size_t offset, std::string message) {
    const int column = text.column + (text.exact ? static_cast<int>(offset) : 0);
    return RuleProblem{text.line, text.line > 0 ? column : 0, std::move(message)};
}

// Text with `{expression}` parts; `{{` and `}}` are literal braces.
class Template {
public:
    static std::expected<Template, RuleProblem>
    compile(const RuleText& text, const CompileOptions& options, std::string_view what) {
        Template t;
        const std::string_view s = text.text;
        std::string literal;
        for (std::size_t i = 0; i < s.size(); ++i) {
            const char c = s[i];
            if (c == '}' && i + 1 < s.size() && s[i + 1] == '}') {
                literal += '}';
                ++i;
                continue;
            }
            if (c == '}') {
                return std::unexpected(problem_at(
                    text, i, std::string(what) + ": unmatched '}'; write '}}' for a brace"));
            }
            if (c == '{' && i + 1 < s.size() && s[i + 1] == '{') {
                literal += '{';
                ++i;
                continue;
            }
            if (c != '{') {
                literal += c;
                continue;
            }
            const std::size_t close = s.find('}', i + 1);
            if (close == std::string_view::npos) {
                return std::unexpected(problem_at(
                    text, i, std::string(what) + ": '{' without its '}'; write '{{' for a brace"));
            }
            const std::string_view inner = s.substr(i + 1, close - i - 1);
            auto expr = Expr::compile(inner, options);
            if (!expr) {
                return std::unexpected(problem_at(text, i + 1 + expr.error().offset,
                                                  std::string(what) + ": " + expr.error().message));
            }
            if (!literal.empty()) {
                t.parts_.push_back(Part{std::move(literal), std::nullopt});
                literal.clear();
            }
            t.parts_.push_back(Part{{}, std::move(*expr)});
            i = close;
        }
        if (!literal.empty()) {
            t.parts_.push_back(Part{std::move(literal), std::nullopt});
        }
        return t;
    }

    [[nodiscard]] bool empty() const { return parts_.empty(); }

    bool render(const ChangeEvent& change, const pg::TypeRegistry& types, std::string& out,
                std::string& error) {
        if (parts_.size() == 1 && !parts_[0].expr) {
            assign_if_different(out, parts_[0].literal);
            return true;
        }
        out.clear();
        for (Part& p : parts_) {
            if (!p.expr) {
                out += p.literal;
                continue;
            }
            Datum d;
            if (!p.expr->eval(change, types, d, error)) {
                return false;
            }
            append_datum_text(out, d);
        }
        return true;
    }

private:
    struct Part {
        std::string literal;
        std::optional<Expr> expr;
    };
    std::vector<Part> parts_;
};

// A compiled payload entry.
struct Field {
    std::string name;
    std::string quoted; // the name as a JSON string, made once
    std::optional<Expr> expr;
    std::vector<Field> fields; // an object when expr is empty
};

struct Header {
    std::string name;
    Template value;
};

struct Rule {
    std::string name;
    RuleKind kind = RuleKind::Change;
    std::string schema;
    std::string table;
    std::string prefix;
    unsigned operations = 0; // bit per Operation
    std::optional<Expr> when;
    Template event;
    Template topic;
    std::optional<Template> key;
    std::optional<Template> subject;
    std::optional<Expr> id;
    bool has_payload = false;
    std::vector<Field> payload; // default: the row (Change), the payload column (Outbox) or the
                                // content (Message)
    std::optional<Expr> payload_value; // Outbox and Message: one expression, JSON text embedded
    std::vector<Header> headers;
    Envelope envelope = Envelope::Plain;
    // The namespaces of its event ids and of its dead letters' (see kEventIdNamespace).
    std::array<unsigned char, 16> id_namespace{};
    std::array<unsigned char, 16> dead_letter_namespace{};
};

unsigned bit(Operation op) {
    return 1U << static_cast<unsigned>(op);
}

// A quoted identifier for a generated expression.
std::string column_ref(std::string_view image, std::string_view column) {
    std::string out(image);
    out += ".\"";
    for (char c : column) {
        out += c;
        if (c == '"') {
            out += '"';
        }
    }
    out += '"';
    return out;
}

class Compiler {
public:
    Compiler(const MappingSpec& mapping, const RuleOptions& options)
        : mapping_(mapping), options_(options) {}

    std::vector<RuleProblem> problems;

    std::optional<Rule> compile(const RuleSpec& spec) {
        Rule rule;
        rule.name = spec.name;
        rule.kind = spec.kind;
        rule.envelope = spec.envelope.value_or(mapping_.envelope);
        rule.has_payload = spec.has_payload;
        const std::size_t before = problems.size();

        CompileOptions opts;
        std::shared_ptr<const Relation> relation;
        if (spec.kind == RuleKind::Message) {
            opts.scope = Scope::Message;
            rule.prefix = spec.prefix.text;
            rule.operations = bit(Operation::Message);
        } else {
            auto [schema, table] = split_table_name(spec.table.text);
            rule.schema = std::move(schema);
            rule.table = std::move(table);
            if (options_.lookup) {
                relation = options_.lookup(rule.schema, rule.table);
                if (!relation) {
                    problems.push_back(problem_at(spec.table, 0,
                                                  "rule '" + spec.name + "': table " + rule.schema +
                                                      "." + rule.table +
                                                      " does not exist in the database"));
                }
            }
            opts.relation = relation.get();
            opts.types = options_.types;
            if (spec.kind == RuleKind::Outbox) {
                rule.operations = bit(Operation::Insert); // later updates (State) are ignored
            } else if (spec.operations.empty()) {
                rule.operations =
                    bit(Operation::Insert) | bit(Operation::Update) | bit(Operation::Delete);
            } else {
                for (Operation op : spec.operations) {
                    rule.operations |= bit(op);
                }
            }
            const unsigned with_new = bit(Operation::Insert) | bit(Operation::Update);
            const unsigned with_old = bit(Operation::Update) | bit(Operation::Delete);
            opts.allow_new = (rule.operations & ~with_new) == 0;
            opts.allow_old = (rule.operations & ~with_old) == 0;
        }

        auto expr = [&](const RuleText& text, std::string_view what) -> std::optional<Expr> {
            auto e = Expr::compile(text.text, opts);
            if (!e) {
                problems.push_back(problem_at(text, e.error().offset,
                                              std::string(what) + ": " + e.error().message));
                return std::nullopt;
            }
            return std::move(*e);
        };
        auto templ = [&](const RuleText& text, std::string_view what) -> std::optional<Template> {
            auto t = Template::compile(text, opts, what);
            if (!t) {
                problems.push_back(std::move(t.error()));
                return std::nullopt;
            }
            return std::move(*t);
        };

        if (!spec.when.empty()) {
            rule.when = expr(spec.when, "when");
            if (rule.when && rule.when->type() != ValueType::Bool &&
                rule.when->type() != ValueType::Unknown) {
                problems.push_back(problem_at(spec.when, 0,
                                              "when: needs a condition (true or false), got a " +
                                                  std::string(to_string(rule.when->type()))));
            }
        }

        // What the kind defines when the rule does not say.
        std::string default_topic;
        std::string default_event;
        if (spec.kind == RuleKind::Outbox) {
            const bool iel = spec.layout == OutboxLayout::IntegrationEventLog;
            auto col = [](const std::string& chosen, std::string_view preset) {
                return chosen.empty() ? std::string(preset) : chosen;
            };
            const std::string id_col = col(spec.id_column, iel ? "EventId" : "id");
            const std::string type_col = col(spec.type_column, iel ? "EventTypeName" : "type");
            const std::string topic_col = col(spec.topic_column, iel ? "" : "aggregatetype");
            const std::string key_col = col(spec.key_column, iel ? "" : "aggregateid");
            const std::string payload_col = col(spec.payload_column, iel ? "Content" : "payload");
            RuleText place = spec.table;
            place.exact = false;
            auto generated = [&](const std::string& text, std::string_view what) {
                RuleText t = place;
                t.text = text;
                return expr(t, what);
            };
            rule.id = generated(column_ref("new", id_col), "outbox id column");
            rule.payload_value = generated(column_ref("new", payload_col), "outbox payload column");
            default_event = "{" + column_ref("new", type_col) + "}";
            default_topic = "{" + column_ref("new", topic_col.empty() ? type_col : topic_col) + "}";
            if (!key_col.empty() && spec.key.empty()) {
                RuleText k = place;
                k.text = "{" + column_ref("new", key_col) + "}";
                if (auto t = templ(k, "outbox key column")) {
                    rule.key = std::move(*t);
                }
            }
        } else if (spec.kind == RuleKind::Message) {
            RuleText t = spec.place;
            t.exact = false;
            t.text = "content";
            rule.payload_value = expr(t, "message content");
        }

        auto required_template = [&](const RuleText& given, const std::string& fallback,
                                     std::string_view what, Template& out) {
            if (given.empty() && fallback.empty()) {
                problems.push_back(problem_at(spec.place, 0,
                                              "rule '" + spec.name + "' has no " +
                                                  std::string(what) + "; add " + std::string(what) +
                                                  ": to it"));
                return;
            }
            RuleText t = given;
            if (given.empty()) {
                t = spec.table;
                t.exact = false;
                t.text = fallback;
            }
            if (auto compiled = templ(t, what)) {
                out = std::move(*compiled);
            }
        };
        required_template(spec.event, default_event, "event", rule.event);
        required_template(spec.topic, default_topic, "topic", rule.topic);
        if (!spec.key.empty()) {
            if (auto t = templ(spec.key, "key")) {
                rule.key = std::move(*t);
            }
        }
        if (!spec.subject.empty()) {
            if (auto t = templ(spec.subject, "subject")) {
                rule.subject = std::move(*t);
            }
        }
        if (!spec.id.empty()) {
            rule.id = expr(spec.id, "id");
        }
        for (const RuleHeader& h : spec.headers) {
            if (auto t = templ(h.value, "header '" + h.name + "'")) {
                rule.headers.push_back(Header{h.name, std::move(*t)});
            }
        }
        rule.payload = fields(spec.payload, expr);
        if (problems.size() != before) {
            return std::nullopt;
        }
        return rule;
    }

private:
    template <typename Compile>
    std::vector<Field> fields(const std::vector<PayloadField>& specs, Compile& expr) {
        std::vector<Field> out;
        for (const PayloadField& f : specs) {
            Field field;
            field.name = f.name;
            append_json_string(field.quoted, f.name);
            if (f.object) {
                field.fields = fields(f.fields, expr);
            } else if (auto e = expr(f.expr, "payload '" + f.name + "'")) {
                field.expr = std::move(*e);
            }
            out.push_back(std::move(field));
        }
        return out;
    }

    const MappingSpec& mapping_;
    const RuleOptions& options_;
};

} // namespace

namespace {

// "0/16B3748:3": the change's position, into `out`.
void position_text(const ChangeEvent& change, std::string& out, char separator = ':') {
    out.clear();
    change.position.commit_lsn.append_to(out);
    out += separator;
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, change.position.seq);
    out.append(digits, static_cast<std::size_t>(r.ptr - digits));
}

} // namespace

// A payload object being written: its fields, and the next one to write.
struct PayloadFrame {
    std::vector<Field>* fields;
    std::size_t next;
};

struct RuleSet::Impl {
    std::string pipeline;
    MappingSpec mapping;
    std::vector<Rule> rules;
    std::optional<Template> raw_topic;

    // The rules that may match each table seen so far; the pointers keep the descriptions alive,
    // so a freed one is never mistaken for a new one at the same address.
    struct TableRules {
        std::shared_ptr<const Relation> relation;
        std::vector<std::size_t> rules;
    };
    std::vector<TableRules> by_table;
    std::vector<std::size_t> message_rules;
    std::vector<IntegrationEvent> events;   // map()'s, reused
    std::vector<EventHeader> spare_headers; // headers beyond an event's count, with their storage
    std::vector<PayloadFrame> frames;       // apply()'s stack of nested payload objects
    std::string source;                     // the CloudEvents source
    std::string error;
    std::string text;    // scratch for rendering
    std::string payload; // scratch for payload JSON
    std::string subject;
    std::string table_name;
    std::shared_ptr<const Relation> table_name_of; // the relation table_name was made for

    // "schema.table" of the change's table, made once per table description.
    const std::string& table_name_for(const ChangeEvent& change) {
        if (table_name_of != change.relation) {
            table_name = change.relation->schema + "." + change.relation->table;
            table_name_of = change.relation;
        }
        return table_name;
    }

    const std::vector<std::size_t>& rules_for(const ChangeEvent& change);
    // Drops the event's headers beyond `count`, keeping their storage for later events.
    void trim_headers(IntegrationEvent& ev, std::size_t count) {
        while (ev.headers.size() > count) {
            spare_headers.push_back(std::move(ev.headers.back()));
            ev.headers.pop_back();
        }
    }
    bool apply(Rule& rule, const ChangeEvent& change, const pg::TypeRegistry& types,
               const pg::JsonOptions& options, IntegrationEvent& ev);
    void raw(const ChangeEvent& change, const pg::TypeRegistry& types,
             const pg::JsonOptions& options, IntegrationEvent& ev);
    void dead_letter(const Rule& rule, const ChangeEvent& change, const pg::TypeRegistry& types,
                     const pg::JsonOptions& options, IntegrationEvent& ev);
    // The id of an event made of `change` by the rule whose id namespace is `ns`.
    void event_id(const std::array<unsigned char, 16>& ns, const ChangeEvent& change,
                  std::string& out);
    // "<commit_lsn>:<seq>" of the change being mapped, made once per change.
    const std::string& position_of(const ChangeEvent& change) {
        if (!position_ready) {
            position_text(change, position);
            position_ready = true;
        }
        return position;
    }
    std::string position;
    bool position_ready = false;
    std::array<unsigned char, 16> raw_namespace{};
};

std::expected<RuleSet, std::vector<RuleProblem>>
RuleSet::compile(const std::vector<RuleSpec>& rules, const MappingSpec& mapping,
                 const RuleOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->pipeline = options.pipeline;
    impl->mapping = mapping;
    impl->source = mapping.cloudevents_source.empty() ? "/walbus/" + options.pipeline
                                                      : mapping.cloudevents_source;
    Compiler compiler(mapping, options);
    for (std::size_t i = 0; i < rules.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            if (rules[j].name == rules[i].name) {
                compiler.problems.push_back(problem_at(
                    rules[i].place, 0,
                    "duplicate rule name '" + rules[i].name + "' (also on line " +
                        std::to_string(rules[j].place.line) +
                        "); rule names must be unique: they are part of every event id"));
            }
        }
        if (auto rule = compiler.compile(rules[i])) {
            impl->rules.push_back(std::move(*rule));
        }
    }
    if (mapping.unmatched == UnmatchedPolicy::Raw) {
        CompileOptions opts;
        opts.allow_new = false;
        opts.allow_old = false;
        opts.no_columns = "the raw topic is the same for every change of a table: it has no "
                          "columns, only {schema}, {table} and {op}";
        auto t = Template::compile(mapping.raw_topic, opts, "mapping.raw_topic");
        if (!t) {
            compiler.problems.push_back(std::move(t.error()));
        } else {
            impl->raw_topic = std::move(*t);
        }
    }
    if (!compiler.problems.empty()) {
        return std::unexpected(std::move(compiler.problems));
    }
    for (std::size_t i = 0; i < impl->rules.size(); ++i) {
        Rule& r = impl->rules[i];
        if (r.kind == RuleKind::Message) {
            impl->message_rules.push_back(i);
        }
        r.id_namespace = uuid_v5_bytes(kEventIdNamespace, options.pipeline + "/" + r.name);
        r.dead_letter_namespace =
            uuid_v5_bytes(kEventIdNamespace, options.pipeline + "/" + r.name + "#dead-letter");
    }
    impl->raw_namespace = uuid_v5_bytes(kEventIdNamespace, options.pipeline + "/");
    return RuleSet(std::move(impl));
}

RuleSet::RuleSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;
RuleSet::~RuleSet() = default;

std::size_t RuleSet::size() const {
    return impl_->rules.size();
}

std::vector<std::pair<std::string, std::string>> RuleSet::tables() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Rule& r : impl_->rules) {
        if (r.kind == RuleKind::Message) {
            continue;
        }
        std::pair<std::string, std::string> name{r.schema, r.table};
        if (std::ranges::find(out, name) == out.end()) {
            out.push_back(std::move(name));
        }
    }
    return out;
}

const std::vector<std::size_t>& RuleSet::Impl::rules_for(const ChangeEvent& change) {
    if (change.op == Operation::Message || !change.relation) {
        return message_rules;
    }
    for (const TableRules& t : by_table) {
        if (t.relation == change.relation) {
            return t.rules;
        }
    }
    // A new table, or a new description of one (after ALTER TABLE): drop descriptions of the
    // same table, then match by name.
    const Relation& rel = *change.relation;
    std::erase_if(by_table, [&](const TableRules& t) {
        return t.relation->schema == rel.schema && t.relation->table == rel.table;
    });
    TableRules entry{change.relation, {}};
    for (std::size_t i = 0; i < rules.size(); ++i) {
        if (rules[i].kind != RuleKind::Message && rules[i].schema == rel.schema &&
            rules[i].table == rel.table) {
            entry.rules.push_back(i);
        }
    }
    by_table.push_back(std::move(entry));
    return by_table.back().rules;
}

void RuleSet::Impl::event_id(const std::array<unsigned char, 16>& ns, const ChangeEvent& change,
                             std::string& out) {
    uuid_v5(ns, position_of(change), out);
}

namespace {

void add_header(IntegrationEvent& ev, std::size_t& count, std::string_view name,
                std::string_view value, std::vector<EventHeader>& spare) {
    if (ev.headers.size() <= count) {
        if (spare.empty()) {
            ev.headers.emplace_back();
        } else {
            ev.headers.push_back(std::move(spare.back()));
            spare.pop_back();
        }
    }
    // A reused event mostly gets the same header names in the same places again.
    EventHeader& h = ev.headers[count];
    assign_if_different(h.name, name);
    h.value.assign(value);
    ++count;
}

std::string source_of(const ChangeEvent& change) {
    if (change.relation) {
        return change.relation->schema + "." + change.relation->table;
    }
    return change.prefix;
}

// Writes a value that may hold JSON as text (an outbox payload in a text column, a message's
// content): embedded when it is valid JSON (on one line), else as a string.
void write_embedded(std::string& out, const Datum& d, const pg::TypeRegistry& types,
                    const pg::JsonOptions& options) {
    if (d.type == ValueType::String && append_json_value(out, d.text)) {
        return;
    }
    write_datum_json(out, d, types, options);
}

} // namespace

bool RuleSet::Impl::apply(Rule& rule, const ChangeEvent& change, const pg::TypeRegistry& types,
                          const pg::JsonOptions& options, IntegrationEvent& ev) {
    ev.dead_letter = false;
    ev.walbus_headers = false;
    assign_if_different(ev.rule, rule.name);
    ev.position = change.position;
    if (!rule.event.render(change, types, ev.type, error) ||
        !rule.topic.render(change, types, ev.topic, error)) {
        return false;
    }
    if (ev.topic.empty()) {
        error = "the topic is empty";
        return false;
    }
    ev.has_key = rule.key.has_value();
    if (rule.key && !rule.key->render(change, types, ev.key, error)) {
        return false;
    }
    if (rule.id) {
        Datum d;
        if (!rule.id->eval(change, types, d, error)) {
            return false;
        }
        if (d.type == ValueType::Null) {
            error = "the event id is null";
            return false;
        }
        ev.id.clear();
        append_datum_text(ev.id, d);
    } else {
        event_id(rule.id_namespace, change, ev.id);
    }

    // The payload.
    payload.clear();
    if (rule.has_payload) {
        JsonWriter w(payload);
        // Nested objects, iteratively: a payload's depth is bounded by the YAML but needs no
        // recursion here.
        std::vector<PayloadFrame>& stack = frames;
        stack.clear();
        stack.push_back({&rule.payload, 0});
        w.begin_object();
        while (!stack.empty()) {
            PayloadFrame& f = stack.back();
            if (f.next == f.fields->size()) {
                w.end_object();
                stack.pop_back();
                continue;
            }
            Field& field = (*f.fields)[f.next++];
            w.quoted_key(field.quoted);
            if (!field.expr) {
                w.begin_object();
                stack.push_back({&field.fields, 0});
                continue;
            }
            Datum d;
            if (!field.expr->eval(change, types, d, error)) {
                error = "payload '" + field.name + "': " + error;
                return false;
            }
            w.value_prefix();
            write_datum_json(payload, d, types, options);
        }
    } else if (rule.payload_value) {
        Datum d;
        if (!rule.payload_value->eval(change, types, d, error)) {
            return false;
        }
        write_embedded(payload, d, types, options);
    } else if (change.op == Operation::Truncate) {
        payload = "null";
    } else {
        // The row: the new one, or the old one for a delete.
        const Tuple& row = change.op == Operation::Delete ? change.before : change.after;
        const Relation& rel = *change.relation;
        JsonWriter w(payload);
        w.begin_object();
        for (std::size_t i = 0; i < rel.columns.size() && i < row.values.size(); ++i) {
            const Value& v = row.values[i];
            if (v.kind == ValueKind::Unchanged) {
                continue; // never turned into null
            }
            if (change.op == Operation::Delete && change.before.kind == TupleKind::Key &&
                !rel.columns[i].key) {
                continue; // not logged
            }
            w.key(rel.columns[i].name);
            w.value_prefix();
            if (v.kind == ValueKind::Null) {
                payload += "null";
            } else {
                pg::append_value_json(payload, rel.columns[i].type_oid, v.data, types, options);
            }
        }
        w.end_object();
    }

    subject.clear();
    if (rule.subject && !rule.subject->render(change, types, subject, error)) {
        return false;
    }
    std::size_t headers = 0;
    for (Header& h : rule.headers) {
        if (!h.value.render(change, types, text, error)) {
            error = "header '" + h.name + "': " + error;
            return false;
        }
        add_header(ev, headers, h.name, text, spare_headers);
    }
    // A non-transactional message has no commit, hence no time: the attribute is left out.
    const bool has_time = change.op != Operation::Message || change.transactional;
    const std::string_view time =
        has_time ? std::string_view(pg::format_utc_timestamp(change.commit_time_us))
                 : std::string_view();
    ev.value.clear();
    switch (rule.envelope) {
    case Envelope::Plain:
        ev.value.swap(payload); // both keep their storage for the next event
        // The walbus-* headers, as fields; mostly the same as the reused event's last ones.
        ev.walbus_headers = true;
        assign_if_different(ev.source, change.relation ? std::string_view(table_name_for(change))
                                                       : std::string_view(change.prefix));
        ev.op = to_string(change.op);
        assign_if_different(ev.time, time);
        ev.position_text.assign(position_of(change));
        assign_if_different(ev.subject, subject);
        break;
    case Envelope::CloudEventsStructured: {
        JsonWriter w(ev.value);
        w.begin_object();
        w.key("specversion");
        w.string("1.0");
        w.key("id");
        w.string(ev.id);
        w.key("source");
        w.string(source);
        w.key("type");
        w.string(ev.type);
        if (has_time) {
            w.key("time");
            w.string(time);
        }
        if (!subject.empty()) {
            w.key("subject");
            w.string(subject);
        }
        w.key("datacontenttype");
        w.string("application/json");
        w.key("data");
        w.raw(payload);
        w.end_object();
        add_header(ev, headers, "content-type", "application/cloudevents+json", spare_headers);
        break;
    }
    case Envelope::CloudEventsBinary:
        ev.value.swap(payload); // both keep their storage for the next event
        add_header(ev, headers, "ce_specversion", "1.0", spare_headers);
        add_header(ev, headers, "ce_id", ev.id, spare_headers);
        add_header(ev, headers, "ce_source", source, spare_headers);
        add_header(ev, headers, "ce_type", ev.type, spare_headers);
        if (has_time) {
            add_header(ev, headers, "ce_time", time, spare_headers);
        }
        if (!subject.empty()) {
            add_header(ev, headers, "ce_subject", subject, spare_headers);
        }
        add_header(ev, headers, "content-type", "application/json", spare_headers);
        break;
    }
    trim_headers(ev, headers);
    return true;
}

void RuleSet::Impl::raw(const ChangeEvent& change, const pg::TypeRegistry& types,
                        const pg::JsonOptions& options, IntegrationEvent& ev) {
    ev.dead_letter = false;
    ev.walbus_headers = false;
    ev.rule.clear();
    ev.position = change.position;
    ev.type = "walbus.change";
    event_id(raw_namespace, change, ev.id);
    std::string unused;
    if (!raw_topic || !raw_topic->render(change, types, ev.topic, unused) || ev.topic.empty()) {
        ev.topic = "walbus.changes";
    }
    // The key: the row's replica identity columns, as an object.
    ev.has_key = false;
    ev.key.clear();
    if (change.relation && change.op != Operation::Truncate) {
        const Relation& rel = *change.relation;
        const Tuple& row = change.after.present() ? change.after : change.before;
        JsonWriter w(ev.key);
        w.begin_object();
        for (std::size_t i = 0; i < rel.columns.size() && i < row.values.size(); ++i) {
            if (!rel.columns[i].key || row.values[i].kind == ValueKind::Unchanged) {
                continue;
            }
            w.key(rel.columns[i].name);
            w.value_prefix();
            if (row.values[i].kind == ValueKind::Null) {
                ev.key += "null";
            } else {
                pg::append_value_json(ev.key, rel.columns[i].type_oid, row.values[i].data, types,
                                      options);
            }
        }
        w.end_object();
        ev.has_key = true;
    }
    ev.value.clear();
    append_change_json(ev.value, change, types, options);
    std::size_t headers = 0;
    add_header(ev, headers, "walbus-id", ev.id, spare_headers);
    add_header(ev, headers, "walbus-type", ev.type, spare_headers);
    trim_headers(ev, headers);
}

void RuleSet::Impl::dead_letter(const Rule& rule, const ChangeEvent& change,
                                const pg::TypeRegistry& types, const pg::JsonOptions& options,
                                IntegrationEvent& ev) {
    ev.dead_letter = true;
    ev.walbus_headers = false;
    ev.rule = rule.name;
    ev.position = change.position;
    ev.type = "walbus.dead_letter";
    event_id(rule.dead_letter_namespace, change, ev.id);
    ev.topic = mapping.dead_letter_topic;
    ev.has_key = false;
    ev.key.clear();
    ev.value.clear();
    JsonWriter w(ev.value);
    w.begin_object();
    w.key("rule");
    w.string(rule.name);
    w.key("error");
    w.string(error);
    w.key("change");
    w.value_prefix();
    append_change_json(ev.value, change, types, options);
    w.end_object();
    std::size_t headers = 0;
    add_header(ev, headers, "walbus-id", ev.id, spare_headers);
    add_header(ev, headers, "walbus-type", ev.type, spare_headers);
    trim_headers(ev, headers);
}

Result<std::span<const IntegrationEvent>> RuleSet::map(const ChangeEvent& change,
                                                       const pg::TypeRegistry& types,
                                                       const pg::JsonOptions& options) {
    Impl& s = *impl_;
    s.position_ready = false;
    std::size_t count = 0;
    // The events of earlier changes keep their storage for the next ones.
    std::vector<IntegrationEvent>& out = s.events;
    auto next = [&]() -> IntegrationEvent& {
        if (out.size() <= count) {
            out.emplace_back();
        }
        return out[count++];
    };
    auto finish = [&] { return std::span<const IntegrationEvent>(out.data(), count); };
    bool matched = false;
    const unsigned op = bit(change.op);
    for (std::size_t i : s.rules_for(change)) {
        Rule& rule = s.rules[i];
        if ((rule.operations & op) == 0) {
            continue;
        }
        if (rule.kind == RuleKind::Message && change.prefix != rule.prefix) {
            continue;
        }
        bool pass = true;
        s.error.clear();
        if (rule.when && !rule.when->test(change, types, pass, s.error)) {
            s.error = "when: " + s.error;
        } else if (!pass) {
            continue;
        } else {
            matched = true;
            if (s.apply(rule, change, types, options, next())) {
                continue;
            }
            --count; // the half-made event is dropped
        }
        matched = true;
        if (s.mapping.on_error == MappingErrorPolicy::Stop) {
            return fail(ErrorCode::Mapping,
                        "rule '" + rule.name + "' cannot map the " +
                            std::string(to_string(change.op)) + " of " + source_of(change) +
                            " at position " + change.position.commit_lsn.str() + ":" +
                            std::to_string(change.position.seq) + ": " + s.error +
                            " (set mapping.on_error: dead_letter to send such changes to " +
                            s.mapping.dead_letter_topic + " instead)");
        }
        s.dead_letter(rule, change, types, options, next());
    }
    if (!matched && s.mapping.unmatched == UnmatchedPolicy::Raw) {
        s.raw(change, types, options, next());
    }
    return finish();
}

} // namespace walbus::mappers
