#include "regcache/util/dir_path.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <deque>
#include <vector>

#include "regcache/util/fs.hpp"

namespace regcache {

namespace {

constexpr int kMaxLinks = 40;  // as the kernel's ELOOP limit

std::deque<std::string> components(const std::string& path) {
  auto parts = path_components(path);
  return {parts.begin(), parts.end()};
}

std::string as_path(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += "/" + n;
  return out.empty() ? "/" : out;
}

}  // namespace

Status check_link_rule(int dir_fd, const std::string& name, const std::string& shown) {
  struct stat link {
  }, dir{};
  if (::fstatat(dir_fd, name.c_str(), &link, AT_SYMLINK_NOFOLLOW) != 0)
    return errno_error("cannot stat", shown, errno);
  if (link.st_uid == ::geteuid()) return {};
  if (::fstat(dir_fd, &dir) != 0) return errno_error("cannot stat the directory of", shown, errno);
  const bool shared_sticky = (dir.st_mode & S_ISVTX) && (dir.st_mode & S_IWOTH);
  if (!shared_sticky && link.st_uid == dir.st_uid) return {};
  return make_error(ErrorKind::hostile,
                    "refusing to follow symlink " + shown + ": it belongs to uid " +
                        std::to_string(link.st_uid) +
                        ", neither this user nor the owner of the directory holding it" +
                        (shared_sticky ? " (a shared sticky directory)" : ""));
}

namespace {

// Opens rel below dirfd in one call, the kernel refusing any symlink and any way out (Linux
// 5.6); -1 with errno, and ENOSYS where the call is missing or filtered: the caller then
// goes a component at a time. One call keeps a deep tree's directory fix-ups linear (one
// open per component of each was quadratic).
int open_beneath(int dirfd, const std::string& rel) {
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const long fd = ::syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof how);
  if (fd < 0 && (errno == EPERM || errno == E2BIG)) errno = ENOSYS;
  return static_cast<int>(fd);
}

}  // namespace

Result<UniqueFd> open_dir_below(int dirfd, const std::string& rel) {
  const auto parts = path_components(rel);
  for (const auto& c : parts)
    if (c == "." || c == "..")
      return make_error(ErrorKind::hostile, "unexpected '" + c + "' in " + rel);
  // In pieces shorter than PATH_MAX, each opened from the one before (a deeper path).
  UniqueFd at;
  for (size_t i = 0; i < parts.size();) {
    std::string piece = parts[i++];
    while (i < parts.size() && piece.size() + 1 + parts[i].size() < PATH_MAX)
      piece += "/" + parts[i++];
    UniqueFd fd(open_beneath(at ? at.get() : dirfd, piece));
    if (!fd && errno == ENOSYS) {
      at.reset();
      break;  // no openat2 here: one component at a time below
    }
    if (!fd && (errno == ELOOP || errno == ENOTDIR || errno == EXDEV))
      return make_error(ErrorKind::hostile, rel + " is no longer the directory it was");
    if (!fd) return errno_error("cannot open", rel, errno);
    at = std::move(fd);
    if (i == parts.size()) return at;
  }
  UniqueFd fd(::dup(dirfd));
  if (!fd) return errno_error("cannot open", rel, errno);
  for (const auto& c : parts) {
    UniqueFd next(::openat(fd.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      if (errno == ELOOP || errno == ENOTDIR)
        return make_error(ErrorKind::hostile,
                          rel + ": " + c + " is no longer the directory it was");
      return errno_error("cannot open", rel, errno);
    }
    fd = std::move(next);
  }
  return fd;
}

Result<OpenedDir> open_directory(const std::string& abs_path, MissingDirs missing) {
  if (abs_path.empty() || abs_path[0] != '/')
    return make_error(ErrorKind::usage, "not an absolute path: " + abs_path);
  std::vector<UniqueFd> stack;
  stack.emplace_back(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!stack.back()) return errno_error("cannot open", "/", errno);
  std::vector<std::string> names;
  std::deque<std::string> todo = components(abs_path);
  OpenedDir out;
  int links = 0;
  while (!todo.empty()) {
    std::string c = todo.front();
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (stack.size() > 1) {
        stack.pop_back();
        names.pop_back();
      }
      continue;
    }
    const int at = stack.back().get();
    const std::string shown = as_path(names) + (names.empty() ? "" : "/") + c;
    struct stat st {};
    if (::fstatat(at, c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT || missing == MissingDirs::error)
        return errno_error("cannot open", shown, errno);
      if (::mkdirat(at, c.c_str(), 0755) != 0 && errno != EEXIST)
        return errno_error("cannot create directory", shown, errno);
      if (out.created_from.empty()) out.created_from = shown;
      if (::fstatat(at, c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno_error("cannot open", shown, errno);
    }
    if (S_ISLNK(st.st_mode)) {
      RC_CHECK(check_link_rule(at, c, shown));
      if (++links > kMaxLinks)
        return make_error(ErrorKind::io, "too many symlinks on the way to " + abs_path);
      const std::string target = RC_TRY(read_link_at(at, c, shown));
      auto parts = components(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (!target.empty() && target[0] == '/') {  // from the root again
        stack.resize(1);
        names.clear();
      }
      continue;
    }
    if (!S_ISDIR(st.st_mode)) return make_error(ErrorKind::io, shown + " is not a directory");
    UniqueFd next(::openat(at, c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return errno_error("cannot open", shown, errno);
    stack.push_back(std::move(next));
    names.push_back(c);
  }
  out.path = as_path(names);
  out.fd = std::move(stack.back());
  return out;
}

}  // namespace regcache
