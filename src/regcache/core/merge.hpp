// Merging a staged directory into an existing one entry by entry, where one swap cannot
// (core/place.hpp): checked first, so that a conflict found anywhere moves nothing.
#pragma once

#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

// Finds, changing nothing, what would stop a merge of the staged directory into the existing
// one half-way: a cached file where the destination holds a directory of files or a mount point
// (ErrorKind::exists), a directory it writes in that this process may not write in. `shown`
// names the existing directory.
Status check_merge(int staged_fd, int existing_fd, const std::string& shown);

// Moves every entry of the directory src_fd into dst_fd as move_over does (check_merge first).
Status move_entries(int src_fd, int dst_fd, const std::string& shown);

// Moves src_dir/src_name onto dst_dir/dst_name: two directories merge (the staged entries
// replace existing ones, the others stay, the directory takes the staged one's mode and times);
// otherwise the staged object replaces the existing one (an empty directory at most: one holding
// files is refused, ErrorKind::exists) by rename, or by a copy where no rename reaches (a volume
// mounted inside the destination).
Status move_over(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name,
                 const std::string& shown);

// Returns the error message for a directory of files that a cached file would replace.
std::string replaced_dir_message(const std::string& dest);

}  // namespace regcache
