// load_string() and load_file(): walk the YAML tree against the key table and collect every
// problem as a Diagnostic. yaml-cpp throws; those exceptions end here.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <system_error>
#include <tuple>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "key_table.h"
#include "rules_reader.h"
#include "value_parsing.h"
#include "walbus/config/config.h"

namespace walbus::config {

std::string Diagnostic::str() const {
    std::string out = file;
    if (line > 0) {
        out += ':' + std::to_string(line) + ':' + std::to_string(column);
    }
    out += ": error: ";
    out += message;
    return out;
}

namespace {

using namespace detail;

std::string join_name(std::string_view prefix, std::string_view name) {
    return prefix.empty() ? std::string(name) : std::string(prefix) + '.' + std::string(name);
}

// "at the top level" or "in 'source'".
std::string where(std::string_view prefix) {
    return prefix.empty() ? std::string("at the top level") : "in '" + std::string(prefix) + "'";
}

std::string join(const std::vector<std::string_view>& words, std::string_view separator) {
    std::string out;
    for (std::string_view word : words) {
        if (!out.empty()) {
            out += separator;
        }
        out += word;
    }
    return out;
}

// The keys and sections directly inside `prefix`, in table order.
std::vector<std::string_view> children_of(std::string_view prefix) {
    std::vector<std::string_view> out;
    for (const KeyDecl& decl : keys()) {
        std::string_view rest = decl.name;
        if (!prefix.empty()) {
            if (!rest.starts_with(prefix) || rest.size() <= prefix.size() ||
                rest[prefix.size()] != '.') {
                continue;
            }
            rest.remove_prefix(prefix.size() + 1);
        }
        const std::string_view child = rest.substr(0, rest.find('.'));
        if (std::ranges::find(out, child) == out.end()) {
            out.push_back(child);
        }
    }
    // Sections with no keys of their own in the table (rules).
    for (const SectionDecl& section : sections()) {
        if (parent_of(section.name) == prefix &&
            std::ranges::find(out, leaf_of(section.name)) == out.end()) {
            out.push_back(leaf_of(section.name));
        }
    }
    return out;
}

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

// What a key accepts, completing "expected ...".
std::string expectation(const KeyDecl& decl) {
    return std::visit(
        Overloaded{
            [](const StringField&) { return std::string("a string"); },
            [](const BoolField&) { return std::string("a boolean (true or false)"); },
            [](const SizeField&) { return std::string("a size such as 4MiB"); },
            [](const CountField&) { return std::string("a whole number such as 10000"); },
            [](const DurationField&) { return std::string("a duration such as 10s"); },
            [](const EnumField& f) {
                if (f.values.size() == 1) {
                    return "'" + std::string(f.values.front()) + "' (the only supported value)";
                }
                return "one of: " + join({f.values.begin(), f.values.end()}, ", ");
            },
            [](const StringListField&) { return std::string("a list of strings"); },
            [](const StringMapField&) { return std::string("a map of names to values"); },
        },
        decl.field);
}

// "remove the key to use the default (walbus)" when there is a default to fall back to.
std::string default_hint(const KeyDecl& decl) {
    const std::string text = default_text(decl);
    if (decl.required == Required::Yes || text.empty()) {
        return {};
    }
    return "remove the key to use the default (" + text + ")";
}

// ", got 'value'" for an ordinary key, nothing for a secret one.
std::string got(const KeyDecl& decl, std::string_view text) {
    return decl.secret ? std::string() : ", got '" + std::string(text) + "'";
}

// "'slott' " for a key that looks like a key name. Anything else (a mis-quoted value that
// became a key, say) may hold a secret, so it is left out of the message.
std::string shown_key(const std::string& name) {
    constexpr std::size_t kMaxShown = 64;
    const bool plain =
        !name.empty() && name.size() <= kMaxShown && std::ranges::all_of(name, [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' ||
                   c == '.' || c == '<';
        });
    return plain ? "'" + name + "' " : std::string();
}

std::string did_you_mean(std::string_view suggestion) {
    return suggestion.empty() ? std::string()
                              : " (did you mean '" + std::string(suggestion) + "'?)";
}

std::string yaml_error_message(const std::string& msg) {
    // Some yaml-cpp messages end with a piece of the input ("unknown escape character: x");
    // that piece may belong to a secret, so keep only the part before it.
    const std::string base = msg.substr(0, msg.find(": "));
    if (msg.starts_with(YAML::ErrorMsg::INVALID_ESCAPE)) {
        return "invalid YAML: unknown escape sequence in a double-quoted string; use single "
               "quotes, or write \\\\ for a backslash";
    }
    return "invalid YAML: " + base + "; check the indentation and the quoting around this place";
}

class Loader {
public:
    Loader(std::string_view yaml, std::string_view file_name, const EnvLookup& env)
        : yaml_(yaml), file_(file_name), env_(env) {}

    LoadResult run() {
        std::optional<YAML::Node> root;
        try {
            if (!check_documents()) {
                return finish();
            }
            root.emplace(YAML::Load(std::string(yaml_))); // the first document only
        } catch (const YAML::Exception& e) {
            add_syntax_error(e);
            return finish();
        }
        if (!root->IsMap()) {
            add(root->Mark(), "expected a map at the top level with keys such as source, sink "
                              "and checkpoint, got " +
                                  std::string(kind_of(*root)));
            return finish();
        }
        try {
            walk_map(*root, "");
            check_requirements();
        } catch (const YAML::Exception& e) {
            add(e.mark, "cannot read the configuration: " + e.msg.substr(0, e.msg.find(": ")));
        }
        return finish();
    }

private:
    // Outlines the YAML stream: where each document starts and whether it holds anything.
    class DocumentScanner final : public YAML::EventHandler {
    public:
        struct Document {
            YAML::Mark start;   // the first token of the document
            YAML::Mark content; // its top-level node
            bool empty = true;
        };

        std::vector<Document> documents;

        void OnDocumentStart(const YAML::Mark& mark) override {
            documents.push_back({mark, mark, true});
            depth_ = 0;
        }
        void OnDocumentEnd() override {}
        void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { top_level(mark, false); }
        void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { top_level(mark, true); }
        void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                      const std::string&) override {
            top_level(mark, true);
        }
        void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                             YAML::EmitterStyle::value) override {
            top_level(mark, true);
            ++depth_;
        }
        void OnSequenceEnd() override { --depth_; }
        void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                        YAML::EmitterStyle::value) override {
            top_level(mark, true);
            ++depth_;
        }
        void OnMapEnd() override { --depth_; }

    private:
        void top_level(const YAML::Mark& mark, bool content) {
            if (depth_ == 0 && !documents.empty()) {
                documents.back().content = mark;
                documents.back().empty = !content;
            }
        }

        int depth_ = 0;
    };

    // Reports an empty file, a second document, or a stray token at the top level. yaml-cpp 0.7's
    // LoadAll() loops forever on the last one (a lone ","): each document it starts there ends
    // without consuming the token. Returns whether the first document is worth walking.
    bool check_documents() {
        std::istringstream in{std::string(yaml_)};
        YAML::Parser parser(in);
        DocumentScanner scanner;
        while (parser.HandleNextDocument(scanner)) {
            const auto& docs = scanner.documents;
            if (docs.size() >= 2 && docs.back().start.pos <= docs[docs.size() - 2].start.pos) {
                const auto pos = static_cast<std::size_t>(docs.back().start.pos);
                const char c = pos < yaml_.size() ? yaml_[pos] : '\0';
                const std::string what = std::string_view(",:?]}").find(c) != std::string::npos
                                             ? "unexpected '" + std::string(1, c) + "'"
                                             : std::string("unexpected text");
                add(docs.back().start, "invalid YAML: " + what +
                                           "; check the indentation and the quoting around this "
                                           "place");
                return false;
            }
        }
        // A document with nothing in it (a trailing "---", a file of comments) does not count.
        std::vector<DocumentScanner::Document>& docs = scanner.documents;
        while (!docs.empty() && docs.back().empty) {
            docs.pop_back();
        }
        if (docs.empty()) {
            add_unplaced("the configuration is empty; set at least " + required_key_list());
            return false;
        }
        if (docs.size() > 1) {
            add(docs[1].content, "only one YAML document is allowed; remove the '---' before "
                                 "this one and what follows, or move it to its own file");
            return !docs.front().empty;
        }
        return true;
    }

    struct Seen {
        YAML::Mark key;
        YAML::Mark value;
        bool ok = false; // the value was read without a diagnostic
    };

    void add(const YAML::Mark& mark, std::string message) {
        if (mark.is_null() || mark.line < 0) {
            add_unplaced(std::move(message));
            return;
        }
        diagnostics_.push_back({file_, mark.line + 1, mark.column + 1, std::move(message)});
    }

    void add_unplaced(std::string message) {
        diagnostics_.push_back({file_, 0, 0, std::move(message)});
    }

    LoadResult finish() {
        // File order; problems without a place (a missing section) come last.
        std::ranges::stable_sort(diagnostics_, [](const Diagnostic& a, const Diagnostic& b) {
            const auto key = [](const Diagnostic& d) {
                return std::tuple(d.line == 0, d.line, d.column);
            };
            return key(a) < key(b);
        });
        LoadResult result;
        result.parsed = config_;
        if (diagnostics_.empty()) {
            result.config = std::move(config_);
        }
        result.diagnostics = std::move(diagnostics_);
        return result;
    }

    [[nodiscard]] const Seen* seen(std::string_view name) const {
        const auto it = seen_.find(name);
        return it == seen_.end() ? nullptr : &it->second;
    }

    static std::string required_key_list() {
        std::vector<std::string_view> names;
        for (const KeyDecl& decl : keys()) {
            if (decl.required == Required::Yes || decl.required_by_default) {
                names.push_back(decl.name);
            }
        }
        if (names.size() < 2) {
            return join(names, "");
        }
        const std::string_view last = names.back();
        names.pop_back();
        return join(names, ", ") + " and " + std::string(last);
    }

    void walk_map(const YAML::Node& map, std::string_view prefix) {
        std::map<std::string, int, std::less<>> lines; // key -> line of its first occurrence
        for (const auto& entry : map) {
            const YAML::Node& key = entry.first;
            const YAML::Node& value = entry.second;
            if (!key.IsScalar()) {
                add(key.Mark(), key.IsNull() ? "missing key name before ':' " + where(prefix)
                                             : "expected a key name " + where(prefix) + ", got " +
                                                   std::string(kind_of(key)));
                continue;
            }
            const std::string& name = key.Scalar();
            const auto [first, inserted] = lines.emplace(name, key.Mark().line + 1);
            if (!inserted) {
                add(key.Mark(), "duplicate key " + shown_key(name) + where(prefix) +
                                    "; it is already set on line " + std::to_string(first->second) +
                                    ", remove one of them");
                continue;
            }
            const std::string full = join_name(prefix, name);
            if (full == "rules") {
                seen_[full] = Seen{key.Mark(), value.Mark(), true};
                config_.has_rules = true;
                config_.rules = read_rules(value, yaml_, env_,
                                           [this](const YAML::Mark& mark, std::string message) {
                                               add(mark, std::move(message));
                                           });
            } else if (const KeyDecl* decl = find_key(full)) {
                read_value(*decl, key, value);
                if (full == "mapping.raw_topic") {
                    // A template: errors inside it are placed by its position in the file.
                    config_.mapping.raw_topic =
                        rule_text(value, std::move(config_.mapping.raw_topic.text), yaml_);
                }
            } else if (find_section(full) != nullptr) {
                read_section(full, key, value);
            } else {
                unknown_key(key, name, prefix);
            }
        }
    }

    void read_section(const std::string& name, const YAML::Node& key, const YAML::Node& value) {
        seen_[name] = Seen{key.Mark(), value.Mark(), true};
        if (value.IsNull()) {
            return; // "sink:" with every key commented out: all defaults
        }
        if (!value.IsMap()) {
            seen_[name].ok = false;
            std::vector<std::string_view> examples = children_of(name);
            examples.resize(std::min<std::size_t>(examples.size(), 2));
            add(value.Mark(), "expected a map of keys under '" + name + "' (such as " +
                                  join(examples, " and ") + "), got " +
                                  std::string(kind_of(value)));
            return;
        }
        walk_map(value, name);
    }

    void unknown_key(const YAML::Node& key, const std::string& name, std::string_view prefix) {
        const std::vector<std::string_view> children = children_of(prefix);
        std::string message = "unknown key " + shown_key(name) + where(prefix);
        if (const std::string_view match = closest_match(name, children); !match.empty()) {
            add(key.Mark(), message + did_you_mean(match));
            return;
        }
        // A key that exists in another map was probably indented wrongly.
        std::vector<std::string_view> homes;
        for (const KeyDecl& decl : keys()) {
            if (leaf_of(decl.name) == name && parent_of(decl.name) != prefix) {
                homes.push_back(parent_of(decl.name));
            }
        }
        if (homes.empty()) {
            message += "; expected one of: " + join(children, ", ");
        } else if (homes.front().empty()) {
            message += " (did you mean to put it at the top level?)";
        } else {
            std::string places;
            for (std::string_view home : homes) {
                places += (places.empty() ? "'" : "' or '") + std::string(home);
            }
            message += " (did you mean to put it under " + places + "'?)";
        }
        add(key.Mark(), std::move(message));
    }

    // The scalar's text with ${NAME} expanded, or nothing after reporting why not.
    std::optional<std::string> expand(const KeyDecl& decl, const YAML::Node& value) {
        Expansion expansion = expand_env(value.Scalar(), env_);
        if (expansion.problems.empty()) {
            return std::move(expansion.text);
        }
        const std::string key(decl.name);
        for (const ExpansionProblem& problem : expansion.problems) {
            switch (problem.error) {
            case ExpansionError::Unset:
                add(value.Mark(), "environment variable " + problem.variable +
                                      " is not set (used by " + key +
                                      "); set it in the environment walbus runs in");
                break;
            case ExpansionError::Unterminated:
                add(value.Mark(), "unterminated '${' in " + key +
                                      "; close it with '}', or write '$${' for a literal '${'");
                break;
            case ExpansionError::BadName:
                add(value.Mark(),
                    "invalid environment variable name" +
                        (decl.secret ? std::string() : " '" + problem.variable + "'") + " in " +
                        key +
                        "; use letters, digits and underscores, not starting with a digit, or "
                        "write '$${' for a literal '${'");
                break;
            }
        }
        return std::nullopt;
    }

    // Where a null node is. yaml-cpp marks an empty value ("- " with nothing after it) at the
    // next token, possibly lines further down; only an explicit "~" or "null" is placed right.
    // Fall back to the enclosing node for the empty kind.
    YAML::Mark null_place(const YAML::Node& node, const YAML::Node& enclosing) const {
        const YAML::Mark mark = node.Mark();
        if (mark.pos >= 0 && static_cast<std::size_t>(mark.pos) < yaml_.size()) {
            const std::string_view rest = yaml_.substr(static_cast<std::size_t>(mark.pos));
            for (std::string_view literal : {"~", "null", "Null", "NULL"}) {
                if (rest.starts_with(literal)) {
                    return mark;
                }
            }
        }
        return enclosing.Mark();
    }

    // yaml-cpp reports a tab in indentation as some other error further on; find the tab.
    void add_syntax_error(const YAML::Exception& e) {
        std::size_t line_start = 0;
        for (int line = 0; line <= e.mark.line && line_start < yaml_.size(); ++line) {
            const std::size_t line_end = std::min(yaml_.find('\n', line_start), yaml_.size());
            const std::string_view text = yaml_.substr(line_start, line_end - line_start);
            const std::size_t indent_end = text.find_first_not_of(" \t");
            const std::size_t tab = text.substr(0, indent_end).find('\t');
            if (tab != std::string_view::npos && indent_end != std::string_view::npos &&
                text[indent_end] != '#') {
                diagnostics_.push_back({file_, line + 1, static_cast<int>(tab) + 1,
                                        "invalid YAML: tab in indentation; indent with spaces"});
                return;
            }
            line_start = line_end + 1;
        }
        add(e.mark, yaml_error_message(e.msg));
    }

    // Reports a map or list where a single value belongs; true when `value` is a scalar.
    bool expect_scalar(const KeyDecl& decl, const YAML::Node& value) {
        if (value.IsScalar()) {
            return true;
        }
        add(value.Mark(), "expected " + expectation(decl) + " for " + std::string(decl.name) +
                              ", got " + std::string(kind_of(value)));
        return false;
    }

    void read_value(const KeyDecl& decl, const YAML::Node& key, const YAML::Node& value) {
        Seen& record = seen_[std::string(decl.name)];
        record = Seen{key.Mark(), value.Mark(), false};
        if (value.IsNull()) {
            const std::string hint = default_hint(decl);
            add(key.Mark(), "missing value for " + std::string(decl.name) + "; set " +
                                expectation(decl) + (hint.empty() ? "" : ", or " + hint));
            return;
        }
        record.ok =
            std::visit(Overloaded{
                           [&](const StringField& f) { return read_string(decl, f, value); },
                           [&](const BoolField& f) { return read_bool(decl, f, value); },
                           [&](const SizeField& f) { return read_size(decl, f, value); },
                           [&](const CountField& f) { return read_count(decl, f, value); },
                           [&](const DurationField& f) { return read_duration(decl, f, value); },
                           [&](const EnumField& f) { return read_enum(decl, f, value); },
                           [&](const StringListField& f) { return read_list(decl, f, value); },
                           [&](const StringMapField& f) { return read_map(decl, f, value); },
                       },
                       decl.field);
    }

    bool read_string(const KeyDecl& decl, const StringField& field, const YAML::Node& value) {
        if (!expect_scalar(decl, value)) {
            return false;
        }
        std::optional<std::string> text = expand(decl, value);
        if (!text) {
            return false;
        }
        if (text->empty()) {
            const std::string hint = default_hint(decl);
            add(value.Mark(), std::string(decl.name) + " must not be empty" +
                                  (value.Scalar().empty()
                                       ? std::string()
                                       : " (it is empty after expanding environment variables)") +
                                  (hint.empty() ? "" : "; " + hint));
            return false;
        }
        if (field.check != nullptr) {
            if (std::string problem = field.check(decl.name, *text, decl.secret);
                !problem.empty()) {
                add(value.Mark(), std::move(problem));
                return false;
            }
        }
        field.ref(config_) = std::move(*text);
        return true;
    }

    bool read_bool(const KeyDecl& decl, const BoolField& field, const YAML::Node& value) {
        if (!expect_scalar(decl, value)) {
            return false;
        }
        const std::optional<std::string> text = expand(decl, value);
        if (!text) {
            return false;
        }
        const auto parsed = parse_bool(*text);
        if (!parsed) {
            add(value.Mark(), "expected " + expectation(decl) + " for " + std::string(decl.name) +
                                  got(decl, *text) + did_you_mean(parsed.error()));
            return false;
        }
        field.ref(config_) = *parsed;
        return true;
    }

    bool read_size(const KeyDecl& decl, const SizeField& field, const YAML::Node& value) {
        if (!expect_scalar(decl, value)) {
            return false;
        }
        const std::optional<std::string> text = expand(decl, value);
        if (!text) {
            return false;
        }
        const std::string key(decl.name);
        const std::string shown = decl.secret ? std::string() : " '" + *text + "'";
        const auto parsed = parse_size(*text);
        if (parsed && *parsed >= field.min && *parsed <= field.max) {
            field.ref(config_) = static_cast<std::size_t>(*parsed);
            return true;
        }
        if (parsed || parsed.error().error == NumberError::Overflow) {
            add(value.Mark(), key + " must be between " + format_size(field.min) + " and " +
                                  format_size(field.max) + got(decl, *text));
        } else if (parsed.error().error == NumberError::UnknownUnit) {
            add(value.Mark(), "invalid size" + shown + " for " + key +
                                  "; the units are B, KiB, MiB and GiB" +
                                  did_you_mean(parsed.error().suggestion));
        } else {
            add(value.Mark(), "invalid size" + shown + " for " + key +
                                  "; write a whole number of bytes, optionally followed by B, "
                                  "KiB, MiB or GiB (e.g. '4MiB')");
        }
        return false;
    }

    bool read_count(const KeyDecl& decl, const CountField& field, const YAML::Node& value) {
        if (!expect_scalar(decl, value)) {
            return false;
        }
        const std::optional<std::string> text = expand(decl, value);
        if (!text) {
            return false;
        }
        std::uint64_t n = 0;
        const auto r = std::from_chars(text->data(), text->data() + text->size(), n);
        const bool whole = r.ec == std::errc{} && r.ptr == text->data() + text->size();
        if (whole && n >= field.min && n <= field.max) {
            field.ref(config_) = static_cast<std::size_t>(n);
            return true;
        }
        add(value.Mark(), std::string(decl.name) + " must be a whole number from " +
                              std::to_string(field.min) + " to " + std::to_string(field.max) +
                              got(decl, *text));
        return false;
    }

    bool read_duration(const KeyDecl& decl, const DurationField& field, const YAML::Node& value) {
        if (!expect_scalar(decl, value)) {
            return false;
        }
        const std::optional<std::string> text = expand(decl, value);
        if (!text) {
            return false;
        }
        const std::string key(decl.name);
        const std::string shown = decl.secret ? std::string() : " '" + *text + "'";
        const auto parsed = parse_duration(*text);
        if (parsed && *parsed >= field.min && *parsed <= field.max) {
            field.ref(config_) = *parsed;
            return true;
        }
        if (parsed || parsed.error().error == NumberError::Overflow) {
            add(value.Mark(), key + " must be between " + format_duration(field.min) + " and " +
                                  format_duration(field.max) + got(decl, *text));
            return false;
        }
        switch (parsed.error().error) {
        case NumberError::MissingUnit:
            add(value.Mark(), "invalid duration" + shown + " for " + key + "; add a unit, e.g. '" +
                                  *text + "s' or '" + *text + "ms'");
            break;
        case NumberError::UnknownUnit:
            add(value.Mark(), "invalid duration" + shown + " for " + key +
                                  "; the units are ms, s, m and h" +
                                  did_you_mean(parsed.error().suggestion));
            break;
        case NumberError::Malformed:
        case NumberError::Overflow:
            add(value.Mark(), "invalid duration" + shown + " for " + key +
                                  "; write a whole number followed by ms, s, m or h "
                                  "(e.g. '10s')");
            break;
        }
        return false;
    }

    bool read_enum(const KeyDecl& decl, const EnumField& field, const YAML::Node& value) {
        if (!expect_scalar(decl, value)) {
            return false;
        }
        const std::optional<std::string> text = expand(decl, value);
        if (!text) {
            return false;
        }
        const auto it = std::ranges::find(field.values, *text);
        if (it == field.values.end()) {
            add(value.Mark(), "invalid value" + (decl.secret ? std::string() : " '" + *text + "'") +
                                  " for " + std::string(decl.name) + "; expected " +
                                  expectation(decl) +
                                  did_you_mean(closest_match(*text, field.values)));
            return false;
        }
        field.set(config_, static_cast<std::size_t>(it - field.values.begin()));
        return true;
    }

    bool read_map(const KeyDecl& decl, const StringMapField& field, const YAML::Node& value) {
        const std::string key(decl.name);
        if (!value.IsMap()) {
            add(value.Mark(), "expected " + expectation(decl) + " for " + key + ", got " +
                                  std::string(kind_of(value)) + "; write it as a map, e.g. " +
                                  std::string(decl.example));
            return false;
        }
        bool ok = true;
        std::vector<MapEntry> entries;
        for (const auto& entry : value) {
            const YAML::Node& name = entry.first;
            const YAML::Node& item = entry.second;
            if (!name.IsScalar() || name.Scalar().empty()) {
                add(name.Mark(), "expected a property name in " + key);
                ok = false;
                continue;
            }
            if (std::ranges::any_of(entries,
                                    [&](const MapEntry& e) { return e.key == name.Scalar(); })) {
                add(name.Mark(), "duplicate key " + shown_key(name.Scalar()) + "in " + key +
                                     "; remove one of them");
                ok = false;
                continue;
            }
            if (!item.IsScalar()) {
                add(item.Mark(), "expected a single value for " + shown_key(name.Scalar()) + "in " +
                                     key + ", got " + std::string(kind_of(item)));
                ok = false;
                continue;
            }
            std::optional<std::string> text = expand(decl, item);
            if (!text) {
                ok = false;
                continue;
            }
            entries.push_back(MapEntry{name.Scalar(), std::move(*text), name.Mark().line + 1,
                                       name.Mark().column + 1});
        }
        field.ref(config_) = std::move(entries);
        return ok;
    }

    bool read_list(const KeyDecl& decl, const StringListField& field, const YAML::Node& value) {
        const std::string key(decl.name);
        if (!value.IsSequence()) {
            std::string message = "expected " + expectation(decl) + " for " + key + ", got " +
                                  std::string(kind_of(value));
            if (value.IsScalar()) {
                message += "; write it as a list, e.g. " + std::string(decl.example);
            }
            add(value.Mark(), std::move(message));
            return false;
        }
        bool ok = true;
        std::vector<std::string> items;
        for (const YAML::Node& element : value) {
            if (element.IsNull()) {
                add(null_place(element, value), "empty entry in " + key + "; remove it");
                ok = false;
                continue;
            }
            if (!element.IsScalar()) {
                add(element.Mark(),
                    "expected a string in " + key + ", got " + std::string(kind_of(element)));
                ok = false;
                continue;
            }
            std::optional<std::string> text = expand(decl, element);
            if (!text) {
                ok = false;
                continue;
            }
            if (text->empty()) {
                add(element.Mark(), "empty entry in " + key + "; remove it");
                ok = false;
                continue;
            }
            if (field.check != nullptr) {
                if (std::string problem = field.check(decl.name, *text, decl.secret);
                    !problem.empty()) {
                    add(element.Mark(), std::move(problem));
                    ok = false;
                    continue;
                }
            }
            if (std::ranges::find(items, *text) != items.end()) {
                add(element.Mark(), (decl.secret ? std::string("an entry") : "'" + *text + "'") +
                                        " appears twice in " + key + "; remove one of them");
                ok = false;
                continue;
            }
            items.push_back(std::move(*text));
        }
        if (ok) {
            field.ref(config_) = std::move(items);
        }
        return ok;
    }

    // `plain`: say "is required" without the condition, where the condition is the usual case.
    std::string required_message(const KeyDecl& decl, bool plain = false) const {
        const std::string_view section = parent_of(decl.name);
        std::string message = std::string(decl.name) + " is required";
        if (decl.required == Required::Conditional && !plain) {
            message += " when " + std::string(decl.required_when);
        }
        const std::string example =
            std::string(leaf_of(decl.name)) + ": " + std::string(decl.example);
        if (section.empty()) {
            return message + "; add it, e.g. " + example;
        }
        if (seen(section) == nullptr) {
            return message + "; add a '" + std::string(section) + "' section with " + example;
        }
        return message + "; add it under '" + std::string(section) + "', e.g. " + example;
    }

    void check_requirements() {
        for (const KeyDecl& decl : keys()) {
            if (decl.required != Required::Yes || seen(decl.name) != nullptr) {
                continue;
            }
            const Seen* section = seen(parent_of(decl.name));
            if (section != nullptr && !section->ok) {
                continue; // "source: host=db" is reported once, as a section that is not a map
            }
            add(section != nullptr ? section->key : YAML::Mark::null_mark(),
                required_message(decl));
        }

        // Keys that are required, or pointless, depending on another key. Each check runs
        // only when the keys it reads were read without a problem.
        const Seen* sink_type = seen("sink.type");
        const Seen* sink_path = seen("sink.path");
        if (sink_type != nullptr && sink_type->ok && config_.sink.type == SinkType::File &&
            sink_path == nullptr) {
            add(sink_type->value, required_message(*find_key("sink.path")));
        }
        if (sink_path != nullptr && sink_path->ok && config_.sink.type == SinkType::Stdout &&
            (sink_type == nullptr || sink_type->ok)) {
            add(sink_path->key, "sink.path is only used when sink.type is file; set "
                                "sink.type: file, or remove sink.path");
        }
        // Kafka: the brokers are required; the checkpoint file only without transactions.
        const bool kafka = config_.sink.type == SinkType::Kafka;
        if (sink_type != nullptr && sink_type->ok && kafka &&
            seen("sink.kafka.properties") == nullptr) {
            add(sink_type->value, required_message(*find_key("sink.kafka.properties")));
        }
        const bool needs_checkpoint_file =
            !kafka || config_.sink.kafka.mode == KafkaMode::AtLeastOnce;
        if (needs_checkpoint_file && seen("checkpoint.path") == nullptr &&
            (sink_type == nullptr || sink_type->ok)) {
            const Seen* section = seen("checkpoint");
            if (section == nullptr || section->ok) {
                add(section != nullptr ? section->key : YAML::Mark::null_mark(),
                    required_message(*find_key("checkpoint.path"), !kafka));
            }
        }
        const Seen* kafka_section = seen("sink.kafka");
        if (kafka_section != nullptr && kafka_section->ok && !kafka &&
            (sink_type == nullptr || sink_type->ok)) {
            add(kafka_section->key, "sink.kafka is only used when sink.type is kafka; set "
                                    "sink.type: kafka, or remove sink.kafka");
        }
        const Seen* create = seen("source.create_publication");
        const Seen* tables = seen("source.tables");
        if (create != nullptr && create->ok && config_.source.create_publication &&
            config_.source.tables.empty() && (tables == nullptr || tables->ok)) {
            add(create->value, required_message(*find_key("source.tables")));
        }
        // Streaming in-progress transactions is pgoutput's (protocol version 2).
        const Seen* streaming = seen("source.streaming");
        const Seen* decoder = seen("source.decoder");
        if (streaming != nullptr && streaming->ok &&
            config_.source.streaming == StreamingMode::On &&
            config_.source.decoder == DecoderType::Wal2json && decoder != nullptr && decoder->ok) {
            add(streaming->value, "source.streaming: on needs source.decoder: pgoutput (wal2json "
                                  "cannot stream transactions in progress); set "
                                  "source.streaming to auto or off, or use pgoutput");
        }
    }

    std::string_view yaml_;
    std::string file_;
    const EnvLookup& env_;
    Config config_;
    std::vector<Diagnostic> diagnostics_;
    std::map<std::string, Seen, std::less<>> seen_; // keys and sections present in the file
};

std::optional<std::string> process_env(std::string_view name) {
    const std::string variable(name);
    if (const char* value = std::getenv(variable.c_str())) {
        return std::string(value);
    }
    return std::nullopt;
}

// The whole file, or a lower-case reason why it cannot be read.
std::expected<std::string, std::string> read_whole_file(const std::string& path) {
    const auto reason = [](int error) {
        std::string text = std::generic_category().message(error);
        if (!text.empty()) {
            text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
        }
        return text;
    };
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                               &std::fclose);
    if (!file) {
        return std::unexpected(reason(errno));
    }
    std::string text;
    char buffer[8192];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
        text.append(buffer, n);
    }
    if (std::ferror(file.get()) != 0) {
        return std::unexpected(reason(errno));
    }
    return text;
}

} // namespace

LoadResult load_string(std::string_view yaml, std::string_view file_name, const EnvLookup& env) {
    return Loader(yaml, file_name, env).run();
}

LoadResult load_file(const std::string& path) {
    auto text = read_whole_file(path);
    if (!text) {
        LoadResult result;
        result.diagnostics.push_back(
            {path, 0, 0, "cannot read the configuration file: " + text.error()});
        return result;
    }
    return load_string(*text, path, EnvLookup(process_env));
}

} // namespace walbus::config
