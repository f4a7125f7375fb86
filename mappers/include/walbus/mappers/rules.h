#pragma once

#include <array>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "walbus/core/change_event.h"
#include "walbus/core/error.h"
#include "walbus/core/integration_event.h"
#include "walbus/core/pg_types.h"
#include "walbus/core/rule_spec.h"
#include "walbus/core/type_registry.h"

// Compiled mapping rules: a change in, zero or more integration events out
// (docs/mapping-rules.md).

namespace walbus::mappers {

// A problem in the rules, placed in the configuration file.
struct RuleProblem {
    int line = 0; // 0 when it has no place
    int column = 0;
    std::string message;
};

// The table behind a rule, from the live catalog (walbus check --connect); null when the table
// does not exist.
using TableLookup =
    std::function<std::shared_ptr<const Relation>(std::string_view schema, std::string_view table)>;

struct RuleOptions {
    std::string pipeline = "walbus";         // the config's name: part of every name-based event id
    TableLookup lookup;                      // optional: check the rules against the catalog
    const pg::TypeRegistry* types = nullptr; // with lookup; built-in types when null
};

class RuleSet {
public:
    [[nodiscard]] static std::expected<RuleSet, std::vector<RuleProblem>>
    compile(const std::vector<RuleSpec>& rules, const MappingSpec& mapping,
            const RuleOptions& options);

    RuleSet(RuleSet&&) noexcept;
    RuleSet& operator=(RuleSet&&) noexcept;
    ~RuleSet();

    // The tables the rules read, as {schema, table}, each once.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> tables() const;
    [[nodiscard]] std::size_t size() const;

    // Maps one change into events, valid until the next call (their storage is reused, so that
    // mapping allocates nothing once it has grown). A change no rule matches gives nothing, or a
    // raw change event with mapping.unmatched: raw. A change a rule cannot map (a column dropped
    // since the rules were written, an unchanged TOAST value) is an error naming the rule, the
    // table and the position, or with mapping.on_error: dead_letter a dead-letter event with the
    // reason and the raw change.
    [[nodiscard]] Result<std::span<const IntegrationEvent>>
    map(const ChangeEvent& change, const pg::TypeRegistry& types, const pg::JsonOptions& options);

private:
    struct Impl;
    explicit RuleSet(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The version 5 (SHA-1, name-based) UUID of `name` in the namespace `ns` (RFC 9562), as text.
[[nodiscard]] std::string uuid_v5(const std::array<unsigned char, 16>& ns, std::string_view name);
// The same, into `out` (its storage reused).
void uuid_v5(const std::array<unsigned char, 16>& ns, std::string_view name, std::string& out);
// The same as 16 bytes, for use as a namespace.
[[nodiscard]] std::array<unsigned char, 16> uuid_v5_bytes(const std::array<unsigned char, 16>& ns,
                                                          std::string_view name);

// The namespace of walbus's event ids. An event's id is uuid_v5(uuid_v5_bytes(kEventIdNamespace,
// "<pipeline>/<rule>"), "<commit_lsn>:<seq>"), e.g. the name "0/16B3748:0" in the namespace of
// "eshop/product_price_changed" (docs/mapping-rules.md, "Event identity").
inline constexpr std::array<unsigned char, 16> kEventIdNamespace{
    0x5c, 0x1e, 0x7a, 0x0b, 0x93, 0x2d, 0x4f, 0x61, 0xa8, 0x3e, 0x0d, 0x47, 0xb2, 0x95, 0x6c, 0x18};

} // namespace walbus::mappers
