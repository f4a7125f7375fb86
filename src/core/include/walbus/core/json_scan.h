#pragma once

#include <string>
#include <string_view>

namespace walbus {

// True when `text` is one complete JSON value (RFC 8259, white space allowed around it), as
// PostgreSQL's json and jsonb types hold. Iterative, so nesting depth is bounded only by the
// text: `stack` is caller-owned working space, reused across calls. `line_break` tells whether
// the text has a line feed or carriage return (necessarily white space between tokens).
[[nodiscard]] bool is_json_value(std::string_view text, std::string& stack, bool& line_break);

// Appends `text` when it is one valid JSON value, as it is but with the line breaks between its
// tokens turned into spaces, so that it fits on one line of output; false (nothing appended)
// when it is not JSON.
[[nodiscard]] bool append_json_value(std::string& out, std::string_view text);

} // namespace walbus
