#include "regcache/core/place.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "regcache/core/merge.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

// Merges the staged directory src_dir/src_name into the existing dst_dir/dst_name entry by
// entry, once check_merge found nothing that would stop it half-way.
Status merge_checked(int src_dir, const std::string& src_name, int dst_dir,
                     const std::string& dst_name, const std::string& shown) {
  UniqueFd sfd = open_dir_at(src_dir, src_name);
  UniqueFd dfd = open_dir_at(dst_dir, dst_name);
  if (!sfd || !dfd) return errno_error("cannot open", shown, errno);
  RC_CHECK(check_merge(sfd.get(), dfd.get(), shown));
  sfd.reset();
  dfd.reset();
  return move_over(src_dir, src_name, dst_dir, dst_name, shown);
}

// Adds to the staged directory everything of the existing one that the cache does not
// replace: hard links for files (the same inodes, nothing copied), new directories for
// directories. The staged directory keeps its cached mode and times.
Status fill_from(int existing, int staged, const std::string& shown) {
  struct stat self {};
  if (::fstat(staged, &self) != 0) return errno_error("cannot stat", shown, errno);
  const bool opened = make_dir_writable(staged).has_value();  // a cached 0555 takes links too
  Status result;
  for (const auto& n : list_dir(existing)) {
    struct stat e {
    }, s{};
    if (::fstatat(existing, n.c_str(), &e, AT_SYMLINK_NOFOLLOW) != 0) {  // never left out
      result = errno_error("cannot examine", shown + "/" + n, errno);
      break;
    }
    bool in_cache = ::fstatat(staged, n.c_str(), &s, AT_SYMLINK_NOFOLLOW) == 0;
    if (in_cache && S_ISDIR(e.st_mode) && !S_ISDIR(s.st_mode) && !is_empty_dir_at(existing, n)) {
      result = make_error(ErrorKind::exists, replaced_dir_message(shown + "/" + n));
      break;
    }
    if (in_cache && !(S_ISDIR(e.st_mode) && S_ISDIR(s.st_mode))) continue;  // cache wins
    if (!S_ISDIR(e.st_mode)) {
      if (::linkat(existing, n.c_str(), staged, n.c_str(), 0) != 0) {
        result = errno_error("cannot link", shown + "/" + n, errno);
        break;
      }
      continue;
    }
    if (!in_cache && ::mkdirat(staged, n.c_str(), 0700) != 0) {
      result = errno_error("cannot create", shown + "/" + n, errno);
      break;
    }
    UniqueFd efd = open_dir_at(existing, n);
    UniqueFd sfd = open_dir_at(staged, n);
    result = !efd || !sfd ? errno_error("cannot open", shown + "/" + n, errno)
                          : fill_from(efd.get(), sfd.get(), shown + "/" + n);
    if (sfd && !in_cache) {  // a directory only the destination had keeps its own, even when
      ::fchmod(sfd.get(), e.st_mode & 07777);  // the fill stops: a file-by-file merge follows
      timespec ts[2] = {e.st_atim, e.st_mtim};
      ::futimens(sfd.get(), ts);
    }
    if (!result.ok()) break;
  }
  if (opened) ::fchmod(staged, self.st_mode & 07777);
  timespec ts[2] = {self.st_atim, self.st_mtim};
  ::futimens(staged, ts);
  return result;
}

// What a walk of the existing tree found before a swap.
enum class OldTree { removable, holds_mount, not_removable };

// Checks that every directory of the existing tree can be emptied by this process, so the
// old tree can go after the swap (a directory another user owns cannot), and that no volume is
// mounted in it (it would stay attached to the old tree, and its removal would reach in).
// Otherwise the merge goes file by file, touching only what the cache holds.
Result<OldTree> check_old_tree(int dirfd, const std::string& shown) {
  if (int err = dir_write_error(dirfd); err != 0) {
    log_verbose("cannot empty " + shown + ": " + std::strerror(err));
    return OldTree::not_removable;
  }
  // The swap makes each directory anew, as this user: one of another user's (root
  // restoring over a build user's tree) would change hands.
  struct stat self {};
  if (::fstat(dirfd, &self) != 0 || self.st_uid != ::geteuid()) {
    log_verbose(shown + " belongs to another user");
    return OldTree::not_removable;
  }
  for (const auto& n : list_dir(dirfd)) {
    struct stat st {};
    if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      // Listed but not examined (a directory we may read but not search): the fill could
      // not link it into the new tree, and the old tree's removal would take it.
      log_verbose("cannot examine " + shown + "/" + n + ": " + std::strerror(errno));
      return OldTree::not_removable;
    }
    if (!S_ISDIR(st.st_mode)) continue;
    if (is_mount_root_at(dirfd, n)) {
      log_verbose(shown + "/" + n + " is a mount point");
      return OldTree::holds_mount;
    }
    UniqueFd fd = open_dir_at(dirfd, n);
    if (!fd && errno == EACCES) {  // unreadable (another user's, or a 0000 of ours): merge instead
      log_verbose("cannot empty " + shown + "/" + n + ": " + std::strerror(errno));
      return OldTree::not_removable;
    }
    if (!fd) return errno_error("cannot restore over", shown + "/" + n, errno);
    if (auto below = RC_TRY(check_old_tree(fd.get(), shown + "/" + n)); below != OldTree::removable)
      return below;
  }
  return OldTree::removable;
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
// changed in dest) when this cannot be done; the caller merges file by file.
Result<bool> swap_merged(int parent_fd, const std::string& staging_name, const std::string& name,
                         const std::string& dest) {
  if (holds_cwd(dest)) return false;
  UniqueFd efd = open_dir_at(parent_fd, name);
  UniqueFd sfd = open_dir_at(parent_fd, staging_name);
  if (!efd || !sfd) return errno_error("cannot open", dest, errno);
  if (RC_TRY(check_old_tree(efd.get(), dest)) != OldTree::removable) {
    log_verbose("cannot swap " + dest + " in whole; merging file by file");
    return false;
  }
  Status filled = fill_from(efd.get(), sfd.get(), dest);
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
  // What went out must be the tree the fill read: another process (a second restore into
  // the same place) may have swapped in its own meanwhile, and removing that would lose
  // files. Then the exchange is undone and the merge goes file by file.
  struct stat was {
  }, out{};
  if (::fstat(efd.get(), &was) != 0 ||
      ::fstatat(parent_fd, staging_name.c_str(), &out, AT_SYMLINK_NOFOLLOW) != 0 ||
      was.st_dev != out.st_dev || was.st_ino != out.st_ino) {
    if (::renameat2(parent_fd, staging_name.c_str(), parent_fd, name.c_str(), RENAME_EXCHANGE) != 0)
      return errno_error("cannot restore", dest, errno);
    log_verbose(dest + " changed while it was swapped; merging file by file");
    return false;
  }
  // The old tree, now under the staging name. The restore itself is done: a failure here
  // leaves clutter that the next run's stale cleanup removes, not a broken destination.
  if (auto st = remove_tree_at(parent_fd, staging_name, dest); !st.ok())
    log_warning("restored " + dest + ", but the old files stay behind: " + st.error().message);
  return true;
}

}  // namespace

Status place_staged_inside(int dest_fd, const std::string& staging_name, const std::string& dest) {
  UniqueFd staged = open_dir_at(dest_fd, staging_name);
  if (!staged) return errno == ENOENT ? Status{} : errno_error("cannot open staged", dest, errno);
  struct stat st {};
  if (::fstat(staged.get(), &st) != 0) return errno_error("cannot stat staged", dest, errno);
  RC_CHECK(check_merge(staged.get(), dest_fd, dest));
  make_dir_writable(staged.get());  // a cached 0555: its entries move out
  RC_CHECK(move_entries(staged.get(), dest_fd, dest));
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
  return move_over(parent_fd, staging_name, parent_fd, name, dest);
}

}  // namespace regcache
