// Cache keys and the registry tags that hold them. A key that is a valid tag and a valid
// OCI layout ref.name is its own tag; any other key becomes a sanitized prefix plus 16 hex
// digits of its SHA-256. The manifest annotation keeps the exact key; lookups verify it.
#pragma once

#include <string>
#include <string_view>

#include "regcache/util/result.hpp"

namespace regcache {

// The tag that holds the last-use record (lifecycle/usage_record.hpp), never a cache entry:
// no key maps to it.
inline constexpr const char* kUsageTag = "regcache-usage";

// The tag that holds the lookup index (format/entry_index_format.hpp), never a cache entry.
inline constexpr const char* kIndexTag = "regcache-index";

// Returns true for the tags regcache keeps its own records under (usage, lookup index).
inline bool is_reserved_tag(const std::string& tag) {
  return tag == kUsageTag || tag == kIndexTag;
}

inline constexpr size_t kMaxKeyLength = 512;

// Checks a key (or restore-key prefix): non-empty, at most 512 characters, no comma,
// no control characters, not a reserved tag (is_reserved_tag). The error names the problem.
Status validate_key(std::string_view key);

// Returns true when s is a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}).
bool is_valid_tag(std::string_view s);

// Returns the tag that stores key (key must be valid).
std::string tag_for_key(std::string_view key);

// Returns the tag prefix every key starting with `prefix` has (for filtering tag lists).
std::string tag_prefix_for(std::string_view prefix);

}  // namespace regcache
