#include "regcache/store/oci_layout/layout_owner.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regcache/util/dir_path.hpp"

namespace regcache {

namespace {

// Returns why st, of `what`, may have been written by another user, if it may.
std::optional<std::string> open_to_others(const struct stat& st, const std::string& what) {
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    return what + " belongs to user " + std::to_string(st.st_uid);
  if ((st.st_mode & 022) != 0) return what + " may be written by group or others";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> layout_open_to_others(const std::string& root) {
  auto dir = open_directory(root, MissingDirs::error);
  if (!dir.ok()) return dir.error().message;
  struct stat st {};
  if (::fstat(dir->fd.get(), &st) != 0) return root + " cannot be read";
  if (auto why = open_to_others(st, root)) return why;
  if (::fstatat(dir->fd.get(), "index.json", &st, AT_SYMLINK_NOFOLLOW) != 0)
    return root + "/index.json cannot be read";
  return open_to_others(st, root + "/index.json");
}

}  // namespace regcache
