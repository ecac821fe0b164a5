// Last-used tracking: a restore records when it used an entry, so `prune --by last-used`
// can keep old entries that are still restored. A local layout records it natively (an
// annotation in index.json, Store::record_use); a registry keeps one small OCI artifact
// under the tag `regcache-usage` (manifest annotations only, no blob of its own besides
// the 2-byte empty config), read-modify-written by each restore: one GET and one PUT,
// best effort, bounded to the newest kMaxUsageRecords entries. See docs/lifecycle.md.
#pragma once

#include <string>

#include "regcache/format/key_tag.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

inline constexpr size_t kMaxUsageRecords = 2000;

// Records a restore of manifest `digest` now (current_time()). Best effort: failures are
// logged with -v and never returned.
void record_use(Store& store, const std::string& digest);

// Returns the recorded last uses (manifest digest -> RFC 3339); empty when none.
Result<UsageTimes> read_usage(Store& store);

}  // namespace regcache
