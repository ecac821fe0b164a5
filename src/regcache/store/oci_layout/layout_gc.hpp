// Garbage collection of a local OCI layout: removes the blobs that nothing in index.json
// reaches (following manifests, indexes, configs and layers), except blobs younger than
// a grace period by their file's mtime, which may belong to a save still in progress.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

struct GcReport {
  uint64_t removed_blobs = 0, removed_bytes = 0;
  uint64_t young_blobs = 0, young_bytes = 0;  // unreferenced, but kept for the grace period
};

// Collects the layout at root under its lock; blobs modified less than `grace` ago stay.
Result<GcReport> collect_layout_garbage(const std::string& root, std::chrono::seconds grace);

}  // namespace regcache
