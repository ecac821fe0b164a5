// The environment as a function: lower layers are given one (key templates, presets,
// credentials, git refs) instead of reading the process environment themselves.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace regcache {

// Returns a variable's value, or nullopt when it is unset.
using EnvFn = std::function<std::optional<std::string>(const std::string&)>;

}  // namespace regcache
