// When a symlink on the way to a destination may be followed: the kernel's
// protected-symlinks rule (fs.protected_symlinks), applied by regcache itself so that it
// holds whatever the machine's sysctl says.
#pragma once

#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

// Returns ok when the symlink at `link_path` may be followed by this process: it is owned
// by the effective user, or by the owner of the directory holding it when that directory
// is not world-writable and sticky. Otherwise an error naming the link and its owner.
Status check_symlink_may_be_followed(const std::string& link_path);

}  // namespace regcache
