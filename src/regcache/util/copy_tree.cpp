#include "regcache/util/copy_tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <utility>
#include <vector>

#include "regcache/util/fd.hpp"
#include "regcache/util/file_copy.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

namespace {

// What one copy carries through its tree.
struct CopyRun {
  int top_dir = -1;  // the directory the copy is made in (dst_dir of copy_tree_at)
  std::map<std::pair<dev_t, ino_t>, std::string> copied;  // files of several links: first copy
  UniqueFd hold;  // the copy's top entry, held (util/stale.hpp) until it is renamed
};

// The destination of one entry: its directory and name, and its path from the top directory.
struct CopyDest {
  int dir;
  std::string name;
  std::string from_top;
};

Status copy_entry(CopyRun& run, int src_dir, const std::string& name, const CopyDest& to,
                  const std::string& shown);

// Holds the copy's top entry, open as fd, so that no other run takes it for a leftover.
void hold_top(CopyRun& run, int fd) {
  run.hold = UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (run.hold) hold_temp(run.hold.get());
}

// Gives an open copy the original's owner (where allowed), mode and times.
void keep_attributes(int fd, const struct stat& s) {
  (void)!::fchown(fd, s.st_uid, s.st_gid);  // only root may give files away; others keep theirs
  ::fchmod(fd, s.st_mode & 07777);
  timespec ts[2] = {s.st_atim, s.st_mtim};
  ::futimens(fd, ts);
}

Status copy_file(CopyRun& run, int src_dir, const std::string& name, const CopyDest& to,
                 const struct stat& s, const std::string& shown) {
  const auto id = std::make_pair(s.st_dev, s.st_ino);
  if (s.st_nlink > 1) {
    // Another link of a file copied already in this tree: linked again, as it was.
    auto first = run.copied.find(id);
    if (first != run.copied.end() &&
        ::linkat(run.top_dir, first->second.c_str(), to.dir, to.name.c_str(), 0) == 0)
      return {};  // (where it cannot be linked, under a closed directory, it is copied)
  }
  // Non-blocking, then checked: a FIFO put in its place in between neither hangs nor copies.
  UniqueFd in(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!in) return errno_error("cannot open", shown, errno);
  struct stat now {};
  if (::fstat(in.get(), &now) != 0 || !S_ISREG(now.st_mode) || now.st_ino != s.st_ino ||
      now.st_dev != s.st_dev)
    return make_error(ErrorKind::hostile, shown + " changed while it was copied");
  UniqueFd out(::openat(to.dir, to.name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return errno_error("cannot create", shown, errno);
  if (!run.hold) hold_top(run, out.get());
  RC_CHECK(copy_file_bytes(in.get(), out.get(), shown));
  keep_attributes(out.get(), s);
  if (s.st_nlink > 1) run.copied.emplace(id, to.from_top);
  return {};
}

Status copy_symlink(int src_dir, const std::string& name, const CopyDest& to, const struct stat& s,
                    const std::string& shown) {
  std::string target(static_cast<size_t>(s.st_size) + 1, '\0');
  ssize_t n = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
  if (n < 0) return errno_error("cannot read link", shown, errno);
  if (static_cast<size_t>(n) == target.size())  // longer than when it was seen
    return make_error(ErrorKind::hostile, shown + " changed while it was copied");
  target.resize(static_cast<size_t>(n));
  if (::symlinkat(target.c_str(), to.dir, to.name.c_str()) != 0)
    return errno_error("cannot create", shown, errno);
  (void)!::fchownat(to.dir, to.name.c_str(), s.st_uid, s.st_gid, AT_SYMLINK_NOFOLLOW);
  timespec ts[2] = {s.st_atim, s.st_mtim};
  ::utimensat(to.dir, to.name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  return {};
}

Status copy_dir(CopyRun& run, int src_dir, const std::string& name, const CopyDest& to,
                const struct stat& s, const std::string& shown) {
  UniqueFd in = open_dir_at(src_dir, name);
  if (!in) return errno_error("cannot open", shown, errno);
  if (::mkdirat(to.dir, to.name.c_str(), 0700) != 0)
    return errno_error("cannot create", shown, errno);
  UniqueFd out = open_dir_at(to.dir, to.name);
  if (!out) return errno_error("cannot open", shown, errno);
  if (!run.hold) hold_top(run, out.get());
  for (const auto& n : list_dir(in.get()))
    RC_CHECK(copy_entry(run, in.get(), n, {out.get(), n, to.from_top + "/" + n}, shown + "/" + n));
  keep_attributes(out.get(), s);  // last: the children's creation moved its times
  return {};
}

Status copy_entry(CopyRun& run, int src_dir, const std::string& name, const CopyDest& to,
                  const std::string& shown) {
  struct stat s {};
  if (::fstatat(src_dir, name.c_str(), &s, AT_SYMLINK_NOFOLLOW) != 0)
    return errno_error("cannot stat", shown, errno);
  if (S_ISREG(s.st_mode)) return copy_file(run, src_dir, name, to, s, shown);
  if (S_ISLNK(s.st_mode)) return copy_symlink(src_dir, name, to, s, shown);
  if (S_ISDIR(s.st_mode)) return copy_dir(run, src_dir, name, to, s, shown);
  return make_error(ErrorKind::unsupported, "cannot copy " + shown +
                                                " to another file system: not a file, symlink or "
                                                "directory");
}

}  // namespace

Status copy_tree_at(int src_dir, const std::string& src_name, int dst_dir,
                    const std::string& dst_name, const std::string& shown) {
  const std::string temp = owned_temp_name(kStagePrefix);  // what a save never takes
  CopyRun run;
  run.top_dir = dst_dir;
  Status st = copy_entry(run, src_dir, src_name, {dst_dir, temp, temp}, shown);
  if (st.ok() && ::renameat(dst_dir, temp.c_str(), dst_dir, dst_name.c_str()) != 0)
    st = errno_error("cannot move restored files into", shown, errno);
  if (!st.ok()) (void)remove_tree_at(dst_dir, temp, shown);
  return st;
}

}  // namespace regcache
