// Copies a file, symlink or directory tree between directories on different file systems, where
// a rename cannot move it (a volume mounted inside a restore's destination).
#pragma once

#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

// Copies src_dir/src_name (never followed) onto dst_dir/dst_name, keeping modes, times, hard
// links within the tree and, where allowed, owners: built under a held temporary name beside
// dst_name (util/stale.hpp: a later remove_stale there takes it only once its owner is gone),
// then renamed onto it in one step (replacing a file or an empty directory); on failure
// nothing is left. `shown` names it.
Status copy_tree_at(int src_dir, const std::string& src_name, int dst_dir,
                    const std::string& dst_name, const std::string& shown);

}  // namespace regcache
