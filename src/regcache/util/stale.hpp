// Leftovers of killed runs: temporary names carry the owner's pid, so a later run can
// tell a leftover (owner gone) from the work of a run still in progress.
#pragma once

#include <string>

namespace regcache {

// Returns prefix + "<pid>-<random>": a temporary name owned by this process.
std::string owned_temp_name(const std::string& prefix);

// Removes entries of dir named prefix + "<pid>-..." whose process no longer exists.
// Returns how many were removed; failures are ignored (a leftover is only clutter).
int remove_stale(const std::string& dir, const std::string& prefix);

}  // namespace regcache
