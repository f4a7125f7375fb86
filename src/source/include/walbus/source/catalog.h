#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "walbus/core/change_event.h"
#include "walbus/core/error.h"
#include "walbus/core/type_registry.h"
#include "walbus/source/replication_stream.h"

namespace walbus::source {

// An ordinary (non-replication) connection for catalog look-ups while streaming: types the
// replication stream names only by OID, and tables' columns for decoders that do not describe
// them. Every answer is meant to be cached by the caller; look-ups happen once per type or
// table, never per row.
class Catalog {
public:
    ~Catalog();
    Catalog(const Catalog&) = delete;
    Catalog& operator=(const Catalog&) = delete;

    [[nodiscard]] static Result<std::unique_ptr<Catalog>> connect(const SourceSettings& settings);

    // Describes `oid` and every type it refers to (array element, domain base, range subtype,
    // composite attributes), adding each one the registry does not know yet.
    [[nodiscard]] Result<void> describe_type(std::uint32_t oid, pg::TypeRegistry& registry);

    // The table's columns as pgoutput describes them: generated columns left out, `key` set
    // for the replica identity columns (every column under REPLICA IDENTITY FULL).
    [[nodiscard]] Result<std::shared_ptr<const Relation>> describe_table(std::string_view schema,
                                                                         std::string_view table);

private:
    struct Impl;
    explicit Catalog(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace walbus::source
