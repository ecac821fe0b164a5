// Which restored cargo build units this build did not use. cargo reads a unit's
// fingerprint files (.fingerprint/<name>-<hash>/) on every build that contains the unit,
// even when nothing is recompiled, and rewrites them when it recompiles; a unit whose
// fingerprint files are all as the restore left them (changed before they were last
// modified: ctime > mtime; not read since: atime <= mtime) is not part of this build.
#pragma once

#include <string>
#include <vector>

namespace regcache {

enum class AtimeSupport { updates, frozen };

// Returns whether reading a file under dir updates its access time (relatime/strictatime)
// or not (noatime), by reading a probe file set to an old time.
AtimeSupport probe_atime(const std::string& dir);

// Returns the paths under profile directories (target/debug, target/release, …) that
// belong to units restored but not used since: .fingerprint/<unit>, build/<unit>,
// deps/*-<hash>.*. Empty when the filesystem does not update access times or when no unit
// in any profile was used (no build ran since the restore: nothing tells used from unused).
std::vector<std::string> unused_restored_units(const std::vector<std::string>& profile_dirs);

}  // namespace regcache
