// Opening a directory by absolute path one component at a time, from "/": a symlink on the
// way is followed only under the kernel's protected-symlinks rule, applied here whatever
// the machine's sysctl says (it is owned by this user, or by the owner of the directory
// holding it when that directory is not world-writable and sticky), so another user of a
// shared runner cannot redirect a write of ours by planting a link above a destination.
#pragma once

#include <string>

#include "regcache/util/fd.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

enum class MissingDirs { error, create };

struct OpenedDir {
  UniqueFd fd;
  std::string path;          // its real path (symlinks on the way resolved)
  std::string created_from;  // the topmost directory this call created, "" if none
};

// Opens the directory at abs_path (creating missing ones with MissingDirs::create, mode
// 0755 less the umask). Errors name the component and, for a refused link, its owner.
Result<OpenedDir> open_directory(const std::string& abs_path, MissingDirs missing);

// Opens the directory at `rel` below the open directory dirfd, one component at a time,
// following no symlink at all (for trees this process made, such as a staging location,
// which another user may not redirect while it works in them).
Result<UniqueFd> open_dir_below(int dirfd, const std::string& rel);

// Returns ok when the symlink `name` in the directory `dir_fd` may be followed by this
// process under the protected-symlinks rule; `shown` names the link in the error.
Status check_link_rule(int dir_fd, const std::string& name, const std::string& shown);

}  // namespace regcache
