// An environment for tests: the variables of a map, nothing else.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "regcache/util/env.hpp"

namespace regcache::testing {

// Returns an EnvFn that answers from `vars` and says unset for any other name.
inline EnvFn env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

}  // namespace regcache::testing
