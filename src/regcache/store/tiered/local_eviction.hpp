// Keeping the local tier (store/tiered/tiered_store.hpp) under a size: its least recently
// used blobs go first. A use touches a blob's mtime (the layout's has_blob does), so the
// oldest mtime is the least recent use. A blob another process is reading stays readable
// through its open descriptor, one it checked but has not opened yet is fetched from the
// registry again, and one being written is still a temporary, which this never touches.
#pragma once

#include <cstdint>
#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

struct EvictionReport {
  uint64_t kept_bytes = 0, removed_bytes = 0, removed_blobs = 0;
  uint64_t forgotten_entries = 0;  // index.json descriptors with a blob evicted
};

// Removes the least recently used blobs of the layout at root until they total at most
// max_bytes, then the index.json descriptors of entries that lost a blob.
Result<EvictionReport> evict_least_recently_used(const std::string& root, uint64_t max_bytes);

}  // namespace regcache
