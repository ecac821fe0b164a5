// Reading fields of JSON from elsewhere (registries, token services, auth files, layouts)
// without exceptions: nlohmann's value() and get<>() throw on a type they do not expect,
// and a reply such as {"token":12345} must be an error message, never an abort.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace regcache {

// Returns the string member `key` of j, or `fallback` when j is not an object, has no such
// member, or holds something else than a string there.
inline std::string string_field(const nlohmann::json& j, const char* key,
                                const std::string& fallback = "") {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// Returns the unsigned integer member `key` of j, or nullopt (missing, negative, not a number).
inline std::optional<uint64_t> uint_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<uint64_t>();
}

}  // namespace regcache
