// A machine-local tier in front of a registry (--local-cache DIR): an OCI layout that keeps
// the blobs this machine downloaded or uploaded. Tags and manifests come from the registry,
// which stays the source of truth; a blob the layout holds is read from there once its
// digest checks (a damaged copy is fetched again), any other blob streams from the registry
// into the caller and into the layout at once. A restore's prepare_reads has the copies of
// the entry the layout last saw under its key checked while the registry answers
// (copy_checks.hpp). Writes go to both. Several processes may share one layout (its own
// locking and atomic renames).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "regcache/store/store.hpp"

namespace regcache {

// Blob bytes by where they came from.
struct TierCounters {
  std::atomic<uint64_t> local_bytes{0};
  std::atomic<uint64_t> remote_bytes{0};
};

// Wraps `remote` with the layout `local` (rooted at local_root); counts into `counters`,
// which must outlive the store. Manifests put under `remote_only_tags` (the usage record,
// the lookup index) are not kept locally.
std::unique_ptr<Store> make_tiered_store(std::unique_ptr<Store> remote,
                                         std::unique_ptr<Store> local, std::string local_root,
                                         TierCounters* counters,
                                         std::vector<std::string> remote_only_tags);

// Keeps the entry manifest `digest` that `tiered` fetched in its local layout, under tag, with
// the signatures it read for it, so that a restore (a verifying one too) can fall back on it
// when the registry is unreachable.
Status keep_entry_locally(Store& tiered, const std::string& tag, const std::string& digest);

}  // namespace regcache
