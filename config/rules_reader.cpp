#include "rules_reader.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "value_parsing.h"

namespace walbus::config::detail {
namespace {

constexpr std::array<std::string_view, 14> kRuleKeys{
    "name",  "table", "outbox", "message", "operations", "when",    "event",
    "topic", "key",   "id",     "subject", "payload",    "headers", "envelope"};
constexpr std::array<std::string_view, 7> kOutboxKeys{
    "table", "layout", "id_column", "type_column", "topic_column", "key_column", "payload_column"};
constexpr std::array<std::string_view, 1> kMessageKeys{"prefix"};
constexpr std::array<std::string_view, 4> kOperations{"insert", "update", "delete", "truncate"};
constexpr std::array<std::string_view, 3> kEnvelopes{"plain", "cloudevents-structured",
                                                     "cloudevents-binary"};
constexpr std::array<std::string_view, 2> kLayouts{"standard", "integration_event_log"};

std::string_view kind_of(const YAML::Node& node) {
    if (node.IsMap()) {
        return "a map";
    }
    if (node.IsSequence()) {
        return "a list";
    }
    if (node.IsNull()) {
        return "no value";
    }
    return "a single value";
}

std::string join(std::span<const std::string_view> words) {
    std::string out;
    for (std::string_view w : words) {
        out += out.empty() ? "" : ", ";
        out += w;
    }
    return out;
}

bool plain_name(std::string_view s) {
    return !s.empty() && s.size() <= 200 && std::ranges::all_of(s, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
}

class Reader {
public:
    Reader(std::string_view yaml, const EnvLookup& env, const AddDiagnostic& add)
        : yaml_(yaml), env_(env), add_(add) {}

    std::vector<RuleSpec> read(const YAML::Node& list) {
        std::vector<RuleSpec> out;
        if (list.IsNull()) {
            return out; // "rules:" with nothing under it: no rules
        }
        if (!list.IsSequence()) {
            add_(list.Mark(), "expected a list of rules under 'rules' (each item starting with "
                              "'- name:'), got " +
                                  std::string(kind_of(list)));
            return out;
        }
        for (const YAML::Node& item : list) {
            if (auto rule = read_rule(item)) {
                out.push_back(std::move(*rule));
            }
        }
        return out;
    }

private:
    // The map's entries by key, after reporting keys that are not scalars, duplicate keys and
    // unknown keys.
    std::map<std::string, std::pair<YAML::Node, YAML::Node>>
    entries(const YAML::Node& map, std::span<const std::string_view> allowed,
            std::string_view where) {
        std::map<std::string, std::pair<YAML::Node, YAML::Node>> out;
        for (const auto& entry : map) {
            const YAML::Node& key = entry.first;
            if (!key.IsScalar()) {
                add_(key.Mark(), "expected a key name in " + std::string(where) + ", got " +
                                     std::string(kind_of(key)));
                continue;
            }
            const std::string& name = key.Scalar();
            const std::string shown = plain_name(name) ? "'" + name + "' " : std::string();
            if (const auto it = out.find(name); it != out.end()) {
                add_(key.Mark(), "duplicate key " + shown + "in " + std::string(where) +
                                     "; it is already set on line " +
                                     std::to_string(it->second.first.Mark().line + 1) +
                                     ", remove one of them");
                continue;
            }
            if (std::ranges::find(allowed, name) == allowed.end()) {
                const std::string_view match = closest_match(name, allowed);
                add_(key.Mark(),
                     "unknown key " + shown + "in " + std::string(where) +
                         (match.empty() ? "; expected one of: " + join(allowed)
                                        : " (did you mean '" + std::string(match) + "'?)"));
                continue;
            }
            out.emplace(name, std::make_pair(key, entry.second));
        }
        return out;
    }

    // A scalar with ${NAME} expanded, or nothing after reporting why not.
    std::optional<RuleText> text(const YAML::Node& value, std::string_view what,
                                 bool allow_empty = false) {
        if (value.IsNull()) {
            add_(value.Mark(), "missing value for " + std::string(what));
            return std::nullopt;
        }
        if (!value.IsScalar()) {
            // key: {new.id} is a YAML map: templates that start with a brace need quotes.
            add_(value.Mark(), "expected a single value for " + std::string(what) + ", got " +
                                   std::string(kind_of(value)) +
                                   (value.IsMap() && value.Tag() != "tag:yaml.org,2002:map"
                                        ? "; quote a template that starts with '{', as in "
                                          "\"{new.id}\""
                                        : ""));
            return std::nullopt;
        }
        Expansion expansion = expand_env(value.Scalar(), env_);
        if (!expansion.problems.empty()) {
            const ExpansionProblem& p = expansion.problems.front();
            add_(value.Mark(), p.error == ExpansionError::Unset
                                   ? "environment variable " + p.variable +
                                         " is not set (used by " + std::string(what) +
                                         "); set it in the environment walbus runs in"
                                   : "invalid '${...}' in " + std::string(what) +
                                         "; write '$${' for a literal '${'");
            return std::nullopt;
        }
        if (expansion.text.empty() && !allow_empty) {
            add_(value.Mark(), std::string(what) + " must not be empty");
            return std::nullopt;
        }
        return rule_text(value, std::move(expansion.text), yaml_);
    }

    template <std::size_t N>
    std::optional<std::size_t> choice(const YAML::Node& value, std::string_view what,
                                      const std::array<std::string_view, N>& values) {
        auto t = text(value, what);
        if (!t) {
            return std::nullopt;
        }
        const auto it = std::ranges::find(values, t->text);
        if (it == values.end()) {
            const std::string_view match = closest_match(t->text, values);
            add_(value.Mark(),
                 "invalid " + std::string(what) + " '" + t->text +
                     "'; expected one of: " + join(values) +
                     (match.empty() ? "" : " (did you mean '" + std::string(match) + "'?)"));
            return std::nullopt;
        }
        return static_cast<std::size_t>(it - values.begin());
    }

    std::optional<RuleSpec> read_rule(const YAML::Node& item) {
        if (!item.IsMap()) {
            add_(item.Mark(), "expected a rule (a map with keys such as name, table, event and "
                              "topic), got " +
                                  std::string(kind_of(item)));
            return std::nullopt;
        }
        RuleSpec rule;
        bool ok = true;
        const auto keys = entries(item, kRuleKeys, "a rule");
        auto has = [&](std::string_view k) { return keys.contains(std::string(k)); };
        auto node = [&](std::string_view k) { return keys.at(std::string(k)).second; };
        auto key_mark = [&](std::string_view k) { return keys.at(std::string(k)).first.Mark(); };

        rule.place = rule_text(item, {}, yaml_);
        if (!has("name")) {
            add_(item.Mark(), "a rule needs a name (name: product_price_changed); names are "
                              "part of the event ids");
            ok = false;
        } else if (auto name = text(node("name"), "the rule's name")) {
            if (!plain_name(name->text)) {
                add_(node("name").Mark(), "invalid rule name; use letters, digits, '_', '-' and "
                                          "'.'");
                ok = false;
            }
            rule.name = name->text;
            rule.place = rule_text(keys.at("name").first, {}, yaml_);
        } else {
            ok = false;
        }
        const std::string what_rule = "rule '" + rule.name + "'";

        const int sources = static_cast<int>(has("table")) + static_cast<int>(has("outbox")) +
                            static_cast<int>(has("message"));
        if (sources == 0) {
            add_(item.Mark(), what_rule + " needs one of table: (row changes), outbox: (an "
                                          "outbox table) or message: (logical decoding "
                                          "messages)");
            ok = false;
        } else if (sources > 1) {
            add_(item.Mark(), what_rule + " has more than one of table:, outbox: and message:; "
                                          "a rule reads one of them, split it into several "
                                          "rules");
            ok = false;
        }

        if (has("table")) {
            rule.kind = RuleKind::Change;
            if (auto t = text(node("table"), "table")) {
                rule.table = std::move(*t);
            } else {
                ok = false;
            }
        }
        if (has("outbox")) {
            rule.kind = RuleKind::Outbox;
            ok = read_outbox(node("outbox"), rule) && ok;
        }
        if (has("message")) {
            rule.kind = RuleKind::Message;
            const YAML::Node m = node("message");
            if (!m.IsMap()) {
                add_(m.Mark(), "expected a map under 'message' (prefix: orders), got " +
                                   std::string(kind_of(m)));
                ok = false;
            } else {
                const auto mk = entries(m, kMessageKeys, "'message'");
                if (!mk.contains("prefix")) {
                    add_(m.Mark(), "'message' needs a prefix (the prefix given to "
                                   "pg_logical_emit_message)");
                    ok = false;
                } else if (auto p = text(mk.at("prefix").second, "message.prefix")) {
                    rule.prefix = std::move(*p);
                } else {
                    ok = false;
                }
            }
        }

        if (has("operations")) {
            if (rule.kind != RuleKind::Change) {
                add_(key_mark("operations"), "operations apply to table: rules only (an outbox "
                                             "rule reads inserts, a message rule messages)");
                ok = false;
            } else {
                ok = read_operations(node("operations"), rule) && ok;
            }
        }
        if (rule.kind == RuleKind::Change || rule.kind == RuleKind::Message) {
            for (std::string_view k : {"event", "topic"}) {
                if (!has(k) && sources == 1) {
                    add_(item.Mark(), what_rule + " needs " + std::string(k) + ": (" +
                                          (k == "event" ? "the event type name, such as "
                                                          "ProductPriceChangedIntegrationEvent"
                                                        : "the topic the events go to") +
                                          ")");
                    ok = false;
                }
            }
        }
        const std::array<std::pair<std::string_view, RuleText*>, 6> scalars{{
            {"when", &rule.when},
            {"event", &rule.event},
            {"topic", &rule.topic},
            {"key", &rule.key},
            {"id", &rule.id},
            {"subject", &rule.subject},
        }};
        for (const auto& [k, target] : scalars) {
            if (!has(k)) {
                continue;
            }
            if (auto t = text(node(k), k)) {
                *target = std::move(*t);
            } else {
                ok = false;
            }
        }
        if (has("envelope")) {
            if (auto i = choice(node("envelope"), "envelope", kEnvelopes)) {
                rule.envelope = static_cast<Envelope>(*i);
            } else {
                ok = false;
            }
        }
        if (has("payload")) {
            rule.has_payload = true;
            ok = read_payload(node("payload"), rule.payload, "payload", 0) && ok;
        }
        if (has("headers")) {
            ok = read_headers(node("headers"), rule) && ok;
        }
        if (!ok) {
            return std::nullopt;
        }
        return rule;
    }

    bool read_outbox(const YAML::Node& m, RuleSpec& rule) {
        if (!m.IsMap()) {
            add_(m.Mark(), "expected a map under 'outbox' (table: outbox, layout: standard), "
                           "got " +
                               std::string(kind_of(m)));
            return false;
        }
        bool ok = true;
        const auto keys = entries(m, kOutboxKeys, "'outbox'");
        if (!keys.contains("table")) {
            add_(m.Mark(), "'outbox' needs a table (table: outbox)");
            ok = false;
        } else if (auto t = text(keys.at("table").second, "outbox.table")) {
            rule.table = std::move(*t);
        } else {
            ok = false;
        }
        if (keys.contains("layout")) {
            if (auto i = choice(keys.at("layout").second, "outbox.layout", kLayouts)) {
                rule.layout = static_cast<OutboxLayout>(*i);
            } else {
                ok = false;
            }
        }
        const std::array<std::pair<std::string_view, std::string*>, 5> columns{{
            {"id_column", &rule.id_column},
            {"type_column", &rule.type_column},
            {"topic_column", &rule.topic_column},
            {"key_column", &rule.key_column},
            {"payload_column", &rule.payload_column},
        }};
        for (const auto& [k, target] : columns) {
            if (!keys.contains(std::string(k))) {
                continue;
            }
            if (auto t = text(keys.at(std::string(k)).second, "outbox." + std::string(k))) {
                *target = t->text;
            } else {
                ok = false;
            }
        }
        return ok;
    }

    bool read_operations(const YAML::Node& list, RuleSpec& rule) {
        std::vector<YAML::Node> items;
        if (list.IsScalar()) {
            items.push_back(list);
        } else if (list.IsSequence() && list.size() > 0) {
            for (const YAML::Node& n : list) {
                items.push_back(n);
            }
        } else {
            add_(list.Mark(), "expected a list of operations ([insert, update, delete, "
                              "truncate]) for operations, got " +
                                  std::string(list.IsSequence() ? "an empty list" : kind_of(list)));
            return false;
        }
        bool ok = true;
        for (const YAML::Node& n : items) {
            auto i = choice(n, "operation", kOperations);
            if (!i) {
                ok = false;
                continue;
            }
            const auto op = static_cast<Operation>(*i);
            if (std::ranges::find(rule.operations, op) != rule.operations.end()) {
                add_(n.Mark(), "operation '" + std::string(kOperations[*i]) + "' is listed twice");
                ok = false;
                continue;
            }
            rule.operations.push_back(op);
        }
        return ok;
    }

    bool read_payload(const YAML::Node& map, std::vector<PayloadField>& out,
                      const std::string& path, int depth) {
        if (!map.IsMap()) {
            add_(map.Mark(), "expected a map of field names to expressions under '" + path +
                                 "' (ProductId: new.id), got " + std::string(kind_of(map)));
            return false;
        }
        if (depth > 32) {
            add_(map.Mark(), "payload nested too deeply (more than 32 levels)");
            return false;
        }
        bool ok = true;
        std::map<std::string, int> seen;
        for (const auto& entry : map) {
            const YAML::Node& key = entry.first;
            const YAML::Node& value = entry.second;
            if (!key.IsScalar() || key.Scalar().empty()) {
                add_(key.Mark(), "expected a field name in '" + path + "'");
                ok = false;
                continue;
            }
            const std::string& name = key.Scalar();
            if (const auto it = seen.find(name); it != seen.end()) {
                add_(key.Mark(), "duplicate field '" + name + "' in '" + path +
                                     "'; it is already set on line " + std::to_string(it->second) +
                                     ", remove one of them");
                ok = false;
                continue;
            }
            seen.emplace(name, key.Mark().line + 1);
            PayloadField field;
            field.name = name;
            field.name_place = rule_text(key, name, yaml_);
            const std::string child = path + "." + name;
            if (value.IsMap()) {
                field.object = true;
                ok = read_payload(value, field.fields, child, depth + 1) && ok;
            } else if (auto t = text(value, child)) {
                field.expr = std::move(*t);
            } else {
                ok = false;
                continue;
            }
            out.push_back(std::move(field));
        }
        return ok;
    }

    bool read_headers(const YAML::Node& map, RuleSpec& rule) {
        if (!map.IsMap()) {
            add_(map.Mark(), "expected a map of header names to templates under 'headers', "
                             "got " +
                                 std::string(kind_of(map)));
            return false;
        }
        bool ok = true;
        for (const auto& entry : map) {
            const YAML::Node& key = entry.first;
            if (!key.IsScalar() || key.Scalar().empty()) {
                add_(key.Mark(), "expected a header name in 'headers'");
                ok = false;
                continue;
            }
            const std::string& name = key.Scalar();
            if (const auto it = std::ranges::find(rule.headers, name, &RuleHeader::name);
                it != rule.headers.end()) {
                add_(key.Mark(), "duplicate header '" + name + "'; it is already set on line " +
                                     std::to_string(it->value.line) + ", remove one of them");
                ok = false;
                continue;
            }
            if (auto t = text(entry.second, "header '" + name + "'", true)) {
                rule.headers.push_back(RuleHeader{name, std::move(*t)});
            } else {
                ok = false;
            }
        }
        return ok;
    }

    std::string_view yaml_;
    const EnvLookup& env_;
    const AddDiagnostic& add_;
};

} // namespace

RuleText rule_text(const YAML::Node& scalar, std::string text, std::string_view yaml) {
    RuleText t;
    const YAML::Mark mark = scalar.Mark();
    t.line = mark.line >= 0 ? mark.line + 1 : 0;
    t.column = mark.column >= 0 ? mark.column + 1 : 0;
    t.exact = false;
    if (mark.pos >= 0 && static_cast<std::size_t>(mark.pos) < yaml.size()) {
        std::string_view rest = yaml.substr(static_cast<std::size_t>(mark.pos));
        if (!rest.empty() && (rest.front() == '"' || rest.front() == '\'')) {
            // A quoted scalar: exact when its characters are the text, with no escapes.
            const char quote = rest.front();
            rest.remove_prefix(1);
            t.column += 1;
            t.exact = rest.starts_with(text) && rest.size() > text.size() &&
                      rest[text.size()] == quote && text.find('\n') == std::string::npos;
        } else {
            t.exact = rest.starts_with(text) && text.find('\n') == std::string::npos;
        }
    }
    t.text = std::move(text);
    return t;
}

std::vector<RuleSpec> read_rules(const YAML::Node& list, std::string_view yaml,
                                 const EnvLookup& env, const AddDiagnostic& add) {
    return Reader(yaml, env, add).read(list);
}

std::span<const std::string_view> rule_keys() {
    return kRuleKeys;
}
std::span<const std::string_view> outbox_keys() {
    return kOutboxKeys;
}
std::span<const std::string_view> message_keys() {
    return kMessageKeys;
}

} // namespace walbus::config::detail

namespace walbus::config {

std::vector<std::string> rule_reference_keys() {
    std::vector<std::string> out;
    for (std::string_view k : detail::rule_keys()) {
        out.emplace_back(k);
    }
    for (std::string_view k : detail::outbox_keys()) {
        out.push_back("outbox." + std::string(k));
    }
    for (std::string_view k : detail::message_keys()) {
        out.push_back("message." + std::string(k));
    }
    return out;
}

} // namespace walbus::config
