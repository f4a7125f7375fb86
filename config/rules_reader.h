#pragma once

// Reads the `rules` list of a configuration into RuleSpecs, reporting every structural problem
// (wrong kinds of values, unknown or duplicate keys, missing keys) at its place. The expressions
// inside the rules are compiled later, by the mappers module; each piece of rule text keeps its
// place in the file for that.

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "walbus/config/config.h"
#include "walbus/core/rule_spec.h"

namespace walbus::config::detail {

using AddDiagnostic = std::function<void(const YAML::Mark&, std::string)>;

[[nodiscard]] std::vector<RuleSpec> read_rules(const YAML::Node& list, std::string_view yaml,
                                               const EnvLookup& env, const AddDiagnostic& add);

// Where a scalar's text stands in the file (after ${NAME} expansion of `text`).
[[nodiscard]] RuleText rule_text(const YAML::Node& scalar, std::string text, std::string_view yaml);

// Every key a rule, its outbox map and its message map may have, for the documentation check.
[[nodiscard]] std::span<const std::string_view> rule_keys();
[[nodiscard]] std::span<const std::string_view> outbox_keys();
[[nodiscard]] std::span<const std::string_view> message_keys();

} // namespace walbus::config::detail
