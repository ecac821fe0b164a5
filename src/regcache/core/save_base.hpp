// The base entry of a save: the entry whose layers it reuses by fingerprint and stacks a
// delta layer on (--base, else the entry the last restore used, else the newest entry under
// a restore key).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "regcache/core/delta_plan.hpp"
#include "regcache/core/save.hpp"
#include "regcache/format/entry_format.hpp"

namespace regcache {

class LookupIndex;

// The layers of the base entry, by fingerprint.
struct SaveBase {
  std::string key;
  uint64_t pack_target = 0;
  std::string config_here;  // the base's config digest when this store holds it (read here)
  std::map<std::string, LayerInfo> by_fingerprint;
  // For a delta: the base's layers (when this store holds them) with their diff_ids.
  DeltaBase delta;
  std::vector<std::string> diff_ids;
};

// Loads the base entry's layers and their diff_ids (from its config); none when there is
// no base or it may not serve (--trust, signatures). `index` is the store's lookup index.
Result<SaveBase> load_base(Store& store, const SaveOptions& o, LookupIndex& index);

// Returns the base layer with this fingerprint and compression, if there is one.
std::optional<LayerInfo> reusable_layer(const SaveBase& base, const std::string& fp, Compression c);

}  // namespace regcache
