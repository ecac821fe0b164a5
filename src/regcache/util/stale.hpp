// Leftovers of killed runs: temporary names carry the owner's pid and the PID namespace it
// lives in, so a later run can tell a leftover (owner gone) from the work of a run still in
// progress. A pid only means something in its own namespace: a name from another one (a
// container sharing a layout or a workspace) is never judged by a pid of ours.
#pragma once

#include <string>

namespace regcache {

// Returns prefix + "<pid>-<pid namespace>-<random>": a temporary name owned by this process.
std::string owned_temp_name(const std::string& prefix);

// Returns the name owned_temp_name would give a process `pid` of this PID namespace (tests).
std::string temp_name_of(const std::string& prefix, long pid);

// Removes entries of dir named by owned_temp_name in this PID namespace whose process no
// longer exists. Returns how many were removed; failures are ignored (a leftover is only
// clutter).
int remove_stale(const std::string& dir, const std::string& prefix);

}  // namespace regcache
