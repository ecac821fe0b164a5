#include "regcache/core/place.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "regcache/util/copy_tree.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

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
    return remove_tree_at(src_dir, src_name, shown);
  }
  // rename() replaces a file with a file atomically; across types the old one goes first,
  // unless it is a directory holding files the cache does not hold.
  if (dst_exists && S_ISDIR(d.st_mode) && !S_ISDIR(s.st_mode) &&
      !is_empty_dir_at(dst_dir, dst_name))
    return make_error(ErrorKind::exists, replaced_dir_message(shown));
  if (dst_exists && (S_ISDIR(d.st_mode) || S_ISDIR(s.st_mode)))
    RC_CHECK(remove_tree_at(dst_dir, dst_name, shown));
  if (::renameat(src_dir, src_name.c_str(), dst_dir, dst_name.c_str()) == 0) return {};
  if (errno != EXDEV) return errno_error("cannot move restored files into", shown, errno);
  // A volume mounted inside the destination: no rename reaches it, a copy does.
  RC_CHECK(copy_tree_at(src_dir, src_name, dst_dir, dst_name, shown));
  return remove_tree_at(src_dir, src_name, shown);
}

// Finds, before anything moves, what would stop a merge of the staged directory into the
// existing one half-way: a cached file where the destination holds a directory of files, a
// directory that this process may not write in.
Status check_merge(int staged, int existing, const std::string& shown) {
  if (::faccessat(existing, ".", W_OK | X_OK, AT_EACCESS) != 0)
    return errno_error("cannot restore into", shown, errno);
  for (const auto& n : list_dir(staged)) {
    struct stat s {
    }, e{};
    if (::fstatat(existing, n.c_str(), &e, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(e.st_mode))
      continue;
    if (::fstatat(staged, n.c_str(), &s, AT_SYMLINK_NOFOLLOW) != 0)
      return errno_error("cannot stat", shown + "/" + n, errno);
    if (!S_ISDIR(s.st_mode)) {
      if (!is_empty_dir_at(existing, n))
        return make_error(ErrorKind::exists, replaced_dir_message(shown + "/" + n));
      if (is_mount_root_at(existing, n))
        return make_error(ErrorKind::exists, shown + "/" + n +
                                                 " is a mount point, but the cache holds a file "
                                                 "there; restore it elsewhere");
      continue;
    }
    UniqueFd sfd(::openat(staged, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd efd(::openat(existing, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sfd || !efd) return errno_error("cannot open", shown + "/" + n, errno);
    RC_CHECK(check_merge(sfd.get(), efd.get(), shown + "/" + n));
  }
  return {};
}

// Merges the staged directory src_dir/src_name into the existing dst_dir/dst_name entry by
// entry, once check_merge found nothing that would stop it half-way.
Status merge_checked(int src_dir, const std::string& src_name, int dst_dir,
                     const std::string& dst_name, const std::string& shown) {
  UniqueFd sfd(
      ::openat(src_dir, src_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  UniqueFd dfd(
      ::openat(dst_dir, dst_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sfd || !dfd) return errno_error("cannot open", shown, errno);
  RC_CHECK(check_merge(sfd.get(), dfd.get(), shown));
  sfd.reset();
  dfd.reset();
  return move_at(src_dir, src_name, dst_dir, dst_name, shown);
}

// Adds to the staged directory everything of the existing one that the cache does not
// replace: hard links for files (the same inodes, nothing copied), new directories for
// directories. The staged directory keeps its cached mode and times.
Status fill_from(int existing, int staged, const std::string& shown) {
  struct stat self {
  }, old{};
  if (::fstat(staged, &self) != 0 || ::fstat(existing, &old) != 0)
    return errno_error("cannot stat", shown, errno);
  for (const auto& n : list_dir(existing)) {
    struct stat e {
    }, s{};
    if (::fstatat(existing, n.c_str(), &e, AT_SYMLINK_NOFOLLOW) != 0) continue;
    // A volume mounted below would stay with the old tree, and its removal would reach in.
    if (S_ISDIR(e.st_mode) && (e.st_dev != old.st_dev || is_mount_root_at(existing, n)))
      return make_error(ErrorKind::unsupported, shown + "/" + n + " is a mount point");
    bool in_cache = ::fstatat(staged, n.c_str(), &s, AT_SYMLINK_NOFOLLOW) == 0;
    if (in_cache && S_ISDIR(e.st_mode) && !S_ISDIR(s.st_mode) && !is_empty_dir_at(existing, n))
      return make_error(ErrorKind::exists, replaced_dir_message(shown + "/" + n));
    if (in_cache && !(S_ISDIR(e.st_mode) && S_ISDIR(s.st_mode))) continue;  // cache wins
    if (!S_ISDIR(e.st_mode)) {
      if (::linkat(existing, n.c_str(), staged, n.c_str(), 0) != 0)
        return errno_error("cannot link", shown + "/" + n, errno);
      continue;
    }
    if (!in_cache && ::mkdirat(staged, n.c_str(), 0700) != 0)
      return errno_error("cannot create", shown + "/" + n, errno);
    int efd = ::openat(existing, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int sfd = ::openat(staged, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    Status st = efd < 0 || sfd < 0 ? errno_error("cannot open", shown + "/" + n, errno)
                                   : fill_from(efd, sfd, shown + "/" + n);
    if (st.ok() && !in_cache) {  // a directory only the destination had keeps its own
      ::fchmod(sfd, e.st_mode & 07777);
      timespec ts[2] = {e.st_atim, e.st_mtim};
      ::futimens(sfd, ts);
    }
    if (efd >= 0) ::close(efd);
    if (sfd >= 0) ::close(sfd);
    RC_CHECK(st);
  }
  timespec ts[2] = {self.st_atim, self.st_mtim};
  ::futimens(staged, ts);
  return {};
}

// Checks that every directory of the existing tree can be emptied by this process, so
// the old tree can go after the swap (a directory another user owns cannot).
Status removable(int dirfd, const std::string& shown) {
  if (::faccessat(dirfd, ".", W_OK | X_OK, AT_EACCESS) != 0)
    return errno_error("cannot restore over", shown, errno);
  for (const auto& n : list_dir(dirfd)) {
    struct stat st {};
    if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
      continue;
    int fd = ::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error("cannot restore over", shown + "/" + n, errno);
    Status s = removable(fd, shown + "/" + n);
    ::close(fd);
    RC_CHECK(s);
  }
  return {};
}

// True when dest is the working directory or one of its ancestors: swapping it would
// leave this process (and the user's shell) inside the old, deleted tree.
bool holds_cwd(const std::string& dest) {
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return true;
  std::string cwd = buf;
  return cwd == dest || cwd.rfind(dest + "/", 0) == 0;
}

// Merges an existing destination directory without ever showing a mix: the staged tree
// is completed with the destination's other files (hard links), then the two directories
// swap in one renameat2(RENAME_EXCHANGE), and the old tree goes. Returns false (nothing
// changed in dest) when the filesystem cannot do this; the caller merges file by file.
Result<bool> swap_merged(int parent_fd, const std::string& staging_name, const std::string& name,
                         const std::string& dest) {
  if (holds_cwd(dest)) return false;
  int efd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int sfd =
      ::openat(parent_fd, staging_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (efd >= 0) {
    if (Status ok = removable(efd, dest); !ok.ok()) {  // neither a swap nor a merge can work
      ::close(efd);
      if (sfd >= 0) ::close(sfd);
      return ok.error();
    }
  }
  Status filled =
      efd < 0 || sfd < 0 ? errno_error("cannot open", dest, errno) : fill_from(efd, sfd, dest);
  if (efd >= 0) ::close(efd);
  if (sfd >= 0) ::close(sfd);
  if (!filled.ok() && filled.error().kind == ErrorKind::exists) return filled.error();
  if (!filled.ok()) {
    log_verbose("cannot swap " + dest + " in whole (" + filled.error().message +
                "); merging file by file");
    return false;
  }
  if (::renameat2(parent_fd, staging_name.c_str(), parent_fd, name.c_str(), RENAME_EXCHANGE) != 0) {
    log_verbose("cannot swap " + dest + " in whole (" + std::string(std::strerror(errno)) +
                "); merging file by file");
    return false;
  }
  // The old tree, now under the staging name. The restore itself is done: a failure here
  // leaves clutter that the next run's stale cleanup removes, not a broken destination.
  if (auto st = remove_tree_at(parent_fd, staging_name, dest); !st.ok())
    log_warning("restored " + dest + ", but the old files stay behind: " + st.error().message);
  return true;
}

}  // namespace

std::string replaced_dir_message(const std::string& dest) {
  return dest +
         " is a directory holding files, but the cache holds a file there; remove it to "
         "restore";
}

Status place_staged_inside(int dest_fd, const std::string& staging_name, const std::string& dest) {
  UniqueFd staged(
      ::openat(dest_fd, staging_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!staged) return errno == ENOENT ? Status{} : errno_error("cannot open staged", dest, errno);
  struct stat st {};
  if (::fstat(staged.get(), &st) != 0) return errno_error("cannot stat staged", dest, errno);
  RC_CHECK(check_merge(staged.get(), dest_fd, dest));
  RC_CHECK(merge_dirs(staged.get(), dest_fd, dest));
  staged.reset();
  RC_CHECK(remove_tree_at(dest_fd, staging_name, dest));  // before the times: it moves them
  ::fchmod(dest_fd, st.st_mode & 07777);
  timespec ts[2] = {st.st_atim, st.st_mtim};
  ::futimens(dest_fd, ts);
  return {};
}

Status place_staged(int parent_fd, const std::string& staging_name, const std::string& dest) {
  struct stat st {
  }, d{};
  if (::fstatat(parent_fd, staging_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  std::string name = dest.substr(dest.rfind('/') + 1);
  if (S_ISDIR(st.st_mode) && ::fstatat(parent_fd, name.c_str(), &d, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISDIR(d.st_mode)) {
    if (RC_TRY(swap_merged(parent_fd, staging_name, name, dest))) return {};
    return merge_checked(parent_fd, staging_name, parent_fd, name, dest);
  }
  return move_at(parent_fd, staging_name, parent_fd, name, dest);
}

}  // namespace regcache
