#include "regcache/util/fs.hpp"

#include "regcache/util/fd.hpp"

#include "regcache/util/stale.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>

namespace regcache {

std::string errno_message(std::string_view what, const std::string& path, int err) {
  // A path of a deep tree is shown by its ends: a message stays one readable line.
  constexpr size_t kShown = 200;
  const std::string shown = path.size() <= 2 * kShown + 16 ? path
                                                           : path.substr(0, kShown) + "/.../" +
                                                                 path.substr(path.size() - kShown);
  return std::string(what) + " " + shown + ": " + std::strerror(err);
}

int open_path(const std::string& path, int flags) {
  if (path.size() < PATH_MAX) return ::open(path.c_str(), flags);
  UniqueFd dir;
  size_t pos = 0;
  for (;;) {
    // The longest piece that ends at a '/' and fits; the rest is opened from there.
    const size_t rest = path.size() - pos;
    if (rest < PATH_MAX) break;
    const size_t cut = path.rfind('/', pos + PATH_MAX - 2);
    if (cut == std::string::npos || cut < pos + 1) {
      errno = ENAMETOOLONG;  // one name longer than the kernel takes
      return -1;
    }
    const std::string piece = path.substr(pos, cut - pos);
    UniqueFd next(
        ::openat(dir ? dir.get() : AT_FDCWD, piece.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!next) return -1;
    dir = std::move(next);
    pos = cut + 1;
    while (pos < path.size() && path[pos] == '/') ++pos;  // "a//b": never from the root
  }
  return ::openat(dir ? dir.get() : AT_FDCWD, path.c_str() + pos, flags);
}

Error errno_error(std::string_view what, const std::string& path, int err) {
  return make_error(err == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                    errno_message(what, path, err));
}

Status read_chunks(int fd, const std::string& shown,
                   const std::function<Status(const char* data, size_t size)>& chunk) {
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read", shown, errno);
    if (n == 0) return {};
    RC_CHECK(chunk(buf.data(), static_cast<size_t>(n)));
  }
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("cannot open", path, errno);
  std::string out;
  RC_CHECK(read_chunks(fd.get(), path, [&](const char* data, size_t size) {
    out.append(data, size);
    return Status{};
  }));
  return out;
}

static Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status write_file_atomic(const std::string& path, std::string_view data, Durability durability) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string tmp = dir + "/" + owned_temp_name(kAtomicTempPrefix);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return errno_error("cannot create", tmp, errno);
  hold_temp(fd);  // until it is renamed: closed only then
  Status st = write_all(fd, data, tmp);
  if (st.ok() && durability == Durability::synced && ::fsync(fd) != 0)
    st = errno_error("cannot sync", tmp, errno);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = errno_error("cannot rename into", path, errno);
  }
  if (!st.ok()) ::unlink(tmp.c_str());
  ::close(fd);
  return st;
}

unsigned process_umask() {
  // umask() can only be read by setting it; a magic static makes that happen once, and
  // regcache calls this before it starts other threads (and again only from them after).
  static const unsigned mask = [] {
    mode_t m = ::umask(022);
    ::umask(m);
    return static_cast<unsigned>(m);
  }();
  return mask;
}

Result<std::string> read_link_at(int dirfd, const std::string& name, const std::string& shown) {
  constexpr size_t kMaxLinkTarget = 1 << 20;  // PATH_MAX many times over: no kernel makes one
  // A target that fills the buffer may have been cut short: it is read again, larger.
  for (size_t room = 256; room <= kMaxLinkTarget; room *= 2) {
    std::string target(room, '\0');
    ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
    if (n < 0) return errno_error("cannot read symlink", shown, errno);
    if (static_cast<size_t>(n) < room) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
  }
  return make_error(ErrorKind::io, "symlink target too long: " + shown);
}

Result<std::string> read_file_at(int dirfd, const std::string& name, const std::string& shown,
                                 size_t max) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return errno_error("cannot open", shown, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return make_error(ErrorKind::integrity, shown + " is not a regular file");
  }
  std::string out;
  // One allocation of the size it has now: growing by doubling copies and touches twice.
  out.reserve(std::min<size_t>(static_cast<size_t>(st.st_size), max) + 1);
  RC_CHECK(read_chunks(fd.get(), shown, [&](const char* data, size_t size) -> Status {
    out.append(data, size);
    if (out.size() <= max) return {};
    return make_error(ErrorKind::integrity,
                      shown + " is larger than " + std::to_string(max) + " bytes");
  }));
  return out;
}

Status write_file_atomic_at(int dirfd, const std::string& name, std::string_view data,
                            const std::string& shown) {
  std::string tmp = owned_temp_name(kAtomicTempPrefix);
  int fd = ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) return errno_error("cannot create a temporary file beside", shown, errno);
  hold_temp(fd);  // until it is renamed: closed only then
  Status st = write_all(fd, data, shown);
  if (st.ok() && ::fsync(fd) != 0) st = errno_error("cannot sync", shown, errno);
  if (st.ok() && ::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0)
    st = errno_error("cannot rename into", shown, errno);
  if (!st.ok()) ::unlinkat(dirfd, tmp.c_str(), 0);
  ::close(fd);
  return st;
}

Status make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return make_error(ErrorKind::io, "cannot create directory " + path + ": " + ec.message());
  return {};
}

Status remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return make_error(ErrorKind::io, "cannot remove " + path + ": " + ec.message());
  }
  return {};
}

std::vector<std::string> path_components(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) out.emplace_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

std::vector<std::string> list_dir(int dirfd) {
  std::vector<std::string> names;
  int dup = ::dup(dirfd);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return names;
  }
  ::rewinddir(d);  // the duplicate shares its offset with dirfd, which may have been read
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  return names;
}

UniqueFd open_dir_at(int dirfd, const std::string& name) {
  return UniqueFd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

bool is_empty_dir_at(int dirfd, const std::string& name) {
  UniqueFd fd = open_dir_at(dirfd, name);
  return fd && list_dir(fd.get()).empty();
}

bool is_mount_root_at(int dirfd, const std::string& name) {
  struct statx sx {};
  if (::statx(dirfd, name.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &sx) == 0 &&
      (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
    return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  // An older kernel, or statx refused (a seccomp filter): only another file system shows.
  struct stat self {
  }, parent{};
  if (::fstatat(dirfd, name.c_str(), &self, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(self.st_mode))
    return false;
  const bool parent_known = name.find('/') == std::string::npos
                                ? ::fstatat(dirfd, ".", &parent, 0) == 0  // needs no search right
                                : ::fstatat(dirfd, (name + "/..").c_str(), &parent, 0) == 0;
  return parent_known && self.st_dev != parent.st_dev;
}

int dir_write_error(int fd) {
  if (::faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) == 0) return 0;
  const int err = errno;
  struct stat st {};
  return err == EACCES && ::fstat(fd, &st) == 0 && st.st_uid == ::geteuid() ? 0 : err;
}

std::optional<mode_t> make_dir_writable(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_uid != ::geteuid() || (st.st_mode & S_IRWXU) == S_IRWXU)
    return std::nullopt;
  if (::fchmod(fd, (st.st_mode | S_IRWXU) & 07777) != 0) return std::nullopt;
  return st.st_mode & 07777;
}

// Opens dirfd/name, a directory of ours (st: its stat) without read or search rights (an entry
// said 0000), after giving it its owner's rights by name, never through a symlink; `was` gets
// the mode to put back. On failure the mode is as it was and errno is EACCES.
static UniqueFd open_closed_dir(int dirfd, const std::string& name, const struct stat& st,
                                std::optional<mode_t>* was) {
  if (::fchmodat(dirfd, name.c_str(), (st.st_mode | S_IRWXU) & 07777, AT_SYMLINK_NOFOLLOW) != 0) {
    errno = EACCES;
    return {};
  }
  UniqueFd fd = open_dir_at(dirfd, name);
  struct stat now {};
  if (fd && ::fstat(fd.get(), &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev) {
    *was = st.st_mode & 07777;
    return fd;
  }
  ::fchmodat(dirfd, name.c_str(), st.st_mode & 07777, AT_SYMLINK_NOFOLLOW);
  errno = EACCES;
  return {};
}

namespace {

// A directory being emptied by remove_tree_at: where it is, and the names left in it.
struct Emptying {
  int parent;  // the descriptor it was opened from (the caller's, or the level above's)
  std::string name, shown;
  UniqueFd fd;
  std::optional<mode_t> was;  // the mode to put back if it stays
  std::vector<std::string> names;
  size_t next = 0;
};

// Removes dirfd/name when it is no directory; opens a directory onto `stack` to be emptied.
Status start_removal(int dirfd, const std::string& name, std::string shown,
                     std::vector<Emptying>& stack) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) return errno_error("cannot remove", shown, errno);
    return {};
  }
  if (is_mount_root_at(dirfd, name))
    return make_error(ErrorKind::unsupported,
                      "cannot remove " + shown + ": it is a mount point; what it holds stays");
  std::optional<mode_t> was;
  UniqueFd fd = open_dir_at(dirfd, name);
  if (!fd && errno == EACCES && st.st_uid == ::geteuid())
    fd = open_closed_dir(dirfd, name, st, &was);
  if (!fd) return errno_error("cannot open", shown, errno);
  if (!was) was = make_dir_writable(fd.get());  // ours made read-only (a Go module's) goes too
  std::vector<std::string> names = list_dir(fd.get());
  stack.push_back({dirfd, name, std::move(shown), std::move(fd), was, std::move(names)});
  return {};
}

}  // namespace

// Depth first with a stack of its own, not recursion: a tree thousands of levels deep (as
// deep as an entry may hold) must not exhaust the thread's stack. One descriptor a level.
Status remove_tree_at(int dirfd, const std::string& name, const std::string& shown) {
  std::vector<Emptying> stack;
  Status s = start_removal(dirfd, name, shown, stack);
  while (s.ok() && !stack.empty()) {
    Emptying& top = stack.back();
    if (top.next < top.names.size()) {
      const std::string child = top.names[top.next++];  // a copy: the stack may grow
      s = start_removal(top.fd.get(), child, top.shown + "/" + child, stack);
      continue;
    }
    if (::unlinkat(top.parent, top.name.c_str(), AT_REMOVEDIR) != 0)
      s = errno_error("cannot remove", top.shown, errno);
    if (s.ok()) stack.pop_back();
  }
  // What stays keeps its mode, at every level left.
  for (auto it = stack.rbegin(); it != stack.rend(); ++it)
    if (it->was) ::fchmod(it->fd.get(), *it->was);
  return s;
}

std::string random_hex(size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(digits[rng() & 15]);
  return out;
}

}  // namespace regcache
