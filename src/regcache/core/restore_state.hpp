// A small state file recording which entry the last restore used, per store, so that a
// save later in the same job can base itself on that entry (reusing its unchanged layers).
// Location: $REGCACHE_STATE_FILE, else $RUNNER_TEMP/regcache-state.json (GitHub Actions'
// per-job directory), else ${XDG_STATE_HOME:-~/.local/state}/regcache/restored.json.
#pragma once

#include <optional>
#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

struct RestoredEntry {
  std::string key;     // the key that matched
  std::string digest;  // its manifest digest
};

// Records that a restore from `store` used `entry`; failures only warn.
void record_restore(const std::string& path, const std::string& store, const RestoredEntry& entry);

// Returns what the last restore from `store` used, if recorded.
std::optional<RestoredEntry> last_restore(const std::string& path, const std::string& store);

}  // namespace regcache
