#include "regcache/core/merge.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "regcache/util/copy_tree.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

namespace {

// Renames src_dir/src_name, a staged directory, onto dst_dir/dst_name; returns 0 or the
// rename's errno. Its ".." changes, which needs write permission on it: a cached 0555
// directory (a Go module's) is opened up for the move.
int rename_dir(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name) {
  UniqueFd fd = open_dir_at(src_dir, src_name);
  const auto was = fd ? make_dir_writable(fd.get()) : std::nullopt;
  const int err = ::renameat(src_dir, src_name.c_str(), dst_dir, dst_name.c_str()) == 0 ? 0 : errno;
  if (was) ::fchmod(fd.get(), *was);
  return err;
}

}  // namespace

std::string replaced_dir_message(const std::string& dest) {
  return dest +
         " is a directory holding files, but the cache holds a file there; remove it to "
         "restore";
}

Status check_merge(int staged, int existing, const std::string& shown) {
  bool writes_here = false;  // a directory whose entries all merge further down needs no write
  for (const auto& n : list_dir(staged)) {
    struct stat s {
    }, e{};
    if (::fstatat(existing, n.c_str(), &e, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(e.st_mode)) {
      writes_here = true;
      continue;
    }
    if (::fstatat(staged, n.c_str(), &s, AT_SYMLINK_NOFOLLOW) != 0)
      return errno_error("cannot stat", shown + "/" + n, errno);
    if (!S_ISDIR(s.st_mode)) {
      writes_here = true;
      if (is_mount_root_at(existing, n))
        return make_error(ErrorKind::exists, shown + "/" + n +
                                                 " is a mount point, but the cache holds a file "
                                                 "there; restore it elsewhere");
      if (!is_empty_dir_at(existing, n))
        return make_error(ErrorKind::exists, replaced_dir_message(shown + "/" + n));
      continue;
    }
    UniqueFd sfd = open_dir_at(staged, n);
    UniqueFd efd = open_dir_at(existing, n);
    if (!sfd || !efd) return errno_error("cannot open", shown + "/" + n, errno);
    RC_CHECK(check_merge(sfd.get(), efd.get(), shown + "/" + n));
  }
  if (int err = writes_here ? dir_write_error(existing) : 0; err != 0)
    return errno_error("cannot restore into", shown, err);
  return {};
}

Status move_entries(int src, int dst, const std::string& shown) {
  // What a copy into this directory (a volume's) cut short by SIGKILL left: once per directory.
  remove_stale_at(dst, shown, kStagePrefix);
  for (const auto& n : list_dir(src)) RC_CHECK(move_over(src, n, dst, n, shown + "/" + n));
  return {};
}

Status move_over(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name,
                 const std::string& shown) {
  struct stat s {
  }, d{};
  if (::fstatat(src_dir, src_name.c_str(), &s, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno_error("cannot stat", shown, errno);
  }
  bool dst_exists = ::fstatat(dst_dir, dst_name.c_str(), &d, AT_SYMLINK_NOFOLLOW) == 0;
  if (dst_exists && S_ISDIR(s.st_mode) && S_ISDIR(d.st_mode)) {
    UniqueFd sfd = open_dir_at(src_dir, src_name);
    UniqueFd dfd = open_dir_at(dst_dir, dst_name);
    if (!sfd || !dfd) return errno_error("cannot open", shown, errno);
    make_dir_writable(sfd.get());  // a cached 0555: its entries move out, then it goes
    const auto was = make_dir_writable(dfd.get());  // the job's 0555: takes the cached mode below
    if (Status moved = move_entries(sfd.get(), dfd.get(), shown); !moved.ok()) {
      if (was) ::fchmod(dfd.get(), *was);
      return moved;
    }
    ::fchmod(dfd.get(), s.st_mode & 07777);  // the merged directory: cached mode and mtime
    timespec ts[2] = {s.st_atim, s.st_mtim};
    ::futimens(dfd.get(), ts);
    sfd.reset();
    return remove_tree_at(src_dir, src_name, shown);
  }
  // rename() replaces a file with a file atomically; across types the old one goes first,
  // unless it is a directory holding files the cache does not hold.
  if (dst_exists && S_ISDIR(d.st_mode) && !S_ISDIR(s.st_mode) &&
      !is_empty_dir_at(dst_dir, dst_name))
    return make_error(ErrorKind::exists, replaced_dir_message(shown));
  if (dst_exists && (S_ISDIR(d.st_mode) || S_ISDIR(s.st_mode)))
    RC_CHECK(remove_tree_at(dst_dir, dst_name, shown));
  const int err = S_ISDIR(s.st_mode) ? rename_dir(src_dir, src_name, dst_dir, dst_name)
                  : ::renameat(src_dir, src_name.c_str(), dst_dir, dst_name.c_str()) == 0 ? 0
                                                                                          : errno;
  if (err == 0) return {};
  if (err != EXDEV) return errno_error("cannot move restored files into", shown, err);
  // A volume mounted inside the destination: no rename reaches it, a copy does.
  RC_CHECK(copy_tree_at(src_dir, src_name, dst_dir, dst_name, shown));
  return remove_tree_at(src_dir, src_name, shown);
}

}  // namespace regcache
