// Whether a save stacks a delta layer on its base entry, and what that layer holds: the
// files that changed since the base, whole hard-link groups, and whiteouts for what was
// removed. The rule and its numbers are in docs/format.md, "Delta layers".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "regcache/format/file_list.hpp"
#include "regcache/format/fingerprint.hpp"
#include "regcache/oci/descriptor.hpp"
#include "regcache/util/file_entry.hpp"

namespace regcache {

inline constexpr size_t kMaxDeltaStack = 8;      // delta layers an entry may carry
inline constexpr double kMaxHiddenShare = 0.10;  // of the tar bytes all its layers hold

// What the base entry offers a delta: its layers, roots and tree.
struct DeltaBase {
  std::vector<Descriptor> layers;  // bottom first
  std::vector<std::string> roots;
  std::vector<FileRecord> files;  // sorted by path
};

enum class DeltaChoice {
  unchanged,  // the tree is the base's: its layers as they are
  delta,      // the base's layers and one delta layer on top
  repack,     // packs as without deltas (no usable base, or compaction is due)
};

struct DeltaPlan {
  DeltaChoice choice = DeltaChoice::repack;
  std::vector<size_t> changed;         // indexes into the entries, in path order
  std::vector<std::string> whiteouts;  // removed paths none of whose ancestors is removed
  uint64_t tar_bytes = 0;              // the delta layer's tar size
  std::string why;                     // for -v: what decided it
};

// Compares the walked entries (sorted by path; prints[i] is entries[i]'s) with the base.
DeltaPlan plan_delta(const std::vector<FileEntry>& entries, const std::vector<EntryPrint>& prints,
                     const std::vector<std::string>& roots, const DeltaBase& base);

}  // namespace regcache
