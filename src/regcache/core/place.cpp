#include "regcache/core/place.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "regcache/util/fs.hpp"

namespace regcache {

namespace {

std::vector<std::string> list_dir(int dirfd) {
  std::vector<std::string> names;
  int dup = ::dup(dirfd);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return names;
  }
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  return names;
}

Status remove_at(int dirfd, const std::string& name, const std::string& shown);

Status remove_children(int fd, const std::string& shown) {
  for (const auto& n : list_dir(fd)) RC_CHECK(remove_at(fd, n, shown + "/" + n));
  return {};
}

Status remove_at(int dirfd, const std::string& name, const std::string& shown) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error("cannot open", shown, errno);
    Status s = remove_children(fd, shown);
    ::close(fd);
    RC_CHECK(s);
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0)
      return errno_error("cannot remove", shown, errno);
    return {};
  }
  if (::unlinkat(dirfd, name.c_str(), 0) != 0) return errno_error("cannot remove", shown, errno);
  return {};
}

// Moves src_dir/src_name onto dst_dir/dst_name, merging directories.
Status move_at(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name,
               const std::string& shown);

Status merge_dirs(int src, int dst, const std::string& shown) {
  for (const auto& n : list_dir(src)) RC_CHECK(move_at(src, n, dst, n, shown + "/" + n));
  return {};
}

Status move_at(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name,
               const std::string& shown) {
  struct stat s {
  }, d{};
  if (::fstatat(src_dir, src_name.c_str(), &s, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno_error("cannot stat", shown, errno);
  }
  bool dst_exists = ::fstatat(dst_dir, dst_name.c_str(), &d, AT_SYMLINK_NOFOLLOW) == 0;
  if (dst_exists && S_ISDIR(s.st_mode) && S_ISDIR(d.st_mode)) {
    int sfd = ::openat(src_dir, src_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int dfd = ::openat(dst_dir, dst_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    Status st =
        sfd < 0 || dfd < 0 ? errno_error("cannot open", shown, errno) : merge_dirs(sfd, dfd, shown);
    if (st.ok()) {  // the merged directory takes the cached mode and mtime
      ::fchmod(dfd, s.st_mode & 07777);
      timespec ts[2] = {s.st_atim, s.st_mtim};
      ::futimens(dfd, ts);
    }
    if (sfd >= 0) ::close(sfd);
    if (dfd >= 0) ::close(dfd);
    RC_CHECK(st);
    return remove_at(src_dir, src_name, shown);
  }
  // rename() replaces a file with a file atomically; across types the old one goes first.
  if (dst_exists && (S_ISDIR(d.st_mode) || S_ISDIR(s.st_mode)))
    RC_CHECK(remove_at(dst_dir, dst_name, shown));
  if (::renameat(src_dir, src_name.c_str(), dst_dir, dst_name.c_str()) != 0) {
    return errno_error("cannot move restored files into", shown, errno);
  }
  return {};
}

}  // namespace

Status place_staged(int parent_fd, const std::string& staging_name, const std::string& dest) {
  struct stat st {};
  if (::fstatat(parent_fd, staging_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  return move_at(parent_fd, staging_name, parent_fd, dest.substr(dest.rfind('/') + 1), dest);
}

}  // namespace regcache
