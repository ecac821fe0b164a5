// Groups a sorted list of entries into packs (one layer each) with content-defined
// boundaries at file granularity.
#pragma once

#include <cstdint>
#include <vector>

#include "regcache/util/file_entry.hpp"

namespace regcache {

struct PackOptions {
  uint64_t min_bytes = 8ull << 20;      // never cut a pack smaller than this
  uint64_t target_bytes = 32ull << 20;  // average pack size aimed at
  uint64_t max_bytes = 96ull << 20;     // always cut once a pack reaches this
};

// Returns the options around a target size: packs from a quarter of it to three times it.
inline PackOptions packs_around(uint64_t target) {
  return {target / 4, target, target * 3};
}

struct Pack {
  std::vector<size_t> entries;  // indexes into the entry list, in archive order
  uint64_t bytes = 0;           // tar bytes estimate (content + headers)
};

// Splits entries (sorted by path) into packs; hard links join their target's pack.
std::vector<Pack> plan_packs(const std::vector<FileEntry>& entries, const PackOptions& options);

}  // namespace regcache
