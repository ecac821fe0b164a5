// Which entries a prune deletes: a pure function of the entries, the policy and the time,
// so it is tested on its own and a dry run reports exactly what the real run deletes.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "regcache/util/clock.hpp"

namespace regcache {

enum class PruneBy { created, last_used };

struct PruneEntry {
  std::string key;
  std::string digest;  // its manifest's: tags of one manifest are deleted together, or none
  TimePoint created;
  std::optional<TimePoint> last_used;     // the newest recorded restore, if any
  std::map<std::string, uint64_t> blobs;  // config and layers: digest -> size
};

struct PrunePolicy {
  std::string prefix;                              // only keys starting with it are considered
  std::optional<std::chrono::seconds> older_than;  // delete entries older than this
  std::optional<size_t> keep;                      // keep the newest N of each group
  std::vector<std::string> group_by;               // key prefixes forming groups (longest wins)
  std::optional<uint64_t> max_size;                // keep the newest while their unique blobs fit
  PruneBy by = PruneBy::created;
};

struct PrunePlan {
  std::vector<size_t> remove;  // indices into the entries, newest first
  size_t kept = 0;             // considered entries that stay
  uint64_t freed_bytes = 0;    // blobs only the removed entries referenced
};

// Returns the entry's age reference: its created time, or for PruneBy::last_used the later
// of created and its last recorded use.
TimePoint prune_time(const PruneEntry& e, PruneBy by);

// Decides what a prune removes. An entry goes when --older-than says so, when it is beyond
// the newest `keep` of its group (entries in no group are not counted by keep; without
// group_by every considered entry is one group), or when, walking the survivors newest
// first, the unique blobs of it and all newer survivors exceed max_size (it and every
// older survivor go). Entries of one manifest digest (one manifest under several tags) count
// once for keep and stay together: deleting the manifest would take every tag of it, so
// they go only when all of them would. freed_bytes counts blobs no remaining entry of the
// store references.
PrunePlan plan_prune(const std::vector<PruneEntry>& entries, const PrunePolicy& policy,
                     TimePoint now);

}  // namespace regcache
