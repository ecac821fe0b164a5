// Finding an entry: the exact key, else for each restore-key prefix in order the newest
// entry whose key really starts with it (tags only narrow the search; the key annotation
// decides), skipping entries saved from a ref no --trust pattern matches.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "regcache/format/entry_format.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

enum class Match { exact, prefix };

struct FoundEntry {
  std::string tag;
  std::string digest;  // of the manifest
  EntryInfo info;
  Match match = Match::exact;
};

// Returns the entry for key, else the newest for each prefix in order; nullopt on a miss.
// With trust patterns, only entries saved from a matching git ref count.
Result<std::optional<FoundEntry>> find_entry(Store& store, const std::string& key,
                                             const std::vector<std::string>& prefixes,
                                             const std::vector<std::string>& trust);

}  // namespace regcache
