#pragma once

#include <string_view>

#include "walbus/config/config.h"
#include "walbus/source/replication_stream.h"

namespace walbus {

// The connection settings of the configured source: DSN, slot, publication, tables, what to
// create, the plugin. The application name is the pipeline's name, followed by `role` when one
// is given ("catalog check", "catalog status"), so that pg_stat_activity tells them apart.
[[nodiscard]] source::SourceSettings source_settings_of(const config::Config& cfg,
                                                        std::string_view role = {});

} // namespace walbus
