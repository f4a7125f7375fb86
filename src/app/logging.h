#pragma once

#include <string>

namespace walbus::app {

enum class LogFormat { Text, Json };

// Logs go to standard error (standard output belongs to the stdout sink): human-readable text by
// default, one JSON object per line with --log-format json.
void setup_logging(LogFormat format, const std::string& level);

} // namespace walbus::app
