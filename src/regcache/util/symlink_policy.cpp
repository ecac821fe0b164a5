#include "regcache/util/symlink_policy.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "regcache/util/fs.hpp"

namespace regcache {

Status check_symlink_may_be_followed(const std::string& link_path) {
  struct stat link {
  }, dir{};
  if (::lstat(link_path.c_str(), &link) != 0) return errno_error("cannot stat", link_path, errno);
  if (link.st_uid == ::geteuid()) return {};
  auto slash = link_path.rfind('/');
  std::string parent = slash == 0 ? "/" : link_path.substr(0, slash);
  if (::stat(parent.c_str(), &dir) != 0) return errno_error("cannot stat", parent, errno);
  const bool shared_sticky = (dir.st_mode & S_ISVTX) && (dir.st_mode & S_IWOTH);
  if (!shared_sticky && link.st_uid == dir.st_uid) return {};
  return make_error(ErrorKind::hostile, "refusing to follow symlink " + link_path +
                                            ": it belongs to uid " + std::to_string(link.st_uid) +
                                            ", neither this user nor the owner of " + parent +
                                            (shared_sticky ? " (a shared sticky directory)" : ""));
}

}  // namespace regcache
