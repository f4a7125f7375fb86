#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "walbus/config/config.h"
#include "walbus/core/error.h"
#include "walbus/mappers/rules.h"

namespace walbus {

// A loaded configuration with its rules compiled.
struct PreparedConfig {
    std::optional<config::Config> config;        // set when there are no diagnostics
    std::shared_ptr<mappers::RuleSet> rules;     // set when the config has rules and no diagnostics
    std::vector<config::Diagnostic> diagnostics; // the config's and the rules', in file order
};

// Compiles the rules of a loaded configuration (even one with other problems, so that every
// problem is listed at once) and merges their problems into its diagnostics. `options.lookup`,
// when set, checks the rules against the live catalog.
[[nodiscard]] PreparedConfig prepare_config(config::LoadResult loaded, const std::string& file,
                                            mappers::RuleOptions options = {});

// walbus check --connect: prepare_config with the rules checked against the live catalog (tables,
// columns, types, replica identity), plus the server's set-up (wal_level, the slot, the
// publication and its tables, those of source.tables and of the rules). A configuration with
// problems of its own is not taken to the server. The error is for a server that cannot be
// reached or queried.
[[nodiscard]] Result<PreparedConfig> prepare_config_connected(config::LoadResult loaded,
                                                              const std::string& file);

} // namespace walbus
