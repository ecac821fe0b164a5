// Moves a completed staging location into its destination.
#pragma once

#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

// Moves parent_fd/staging_name onto dest (an absolute path whose parent is parent_fd):
// a single rename when dest is absent; when both are directories, their contents are
// merged (staged files replace existing ones, other existing files stay) — in one atomic
// swap where the filesystem allows (hard links + RENAME_EXCHANGE), else file by file;
// otherwise the existing object is replaced. A staged file or symlink where the
// destination holds a directory that is not empty is refused (ErrorKind::exists): its files
// would be lost. A missing staging location is not an error (nothing was restored there).
Status place_staged(int parent_fd, const std::string& staging_name, const std::string& dest);

// Moves the contents of dest_fd/staging_name, a directory inside dest (a mount point, which
// nothing replaces), into dest entry by entry as place_staged merges, gives dest the staged
// directory's mode and times, and removes the staging location.
Status place_staged_inside(int dest_fd, const std::string& staging_name, const std::string& dest);

}  // namespace regcache
