#include "regcache/util/stale.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

// The inode number of this process's PID namespace ("pid:[4026531836]"), or "0".
const std::string& pid_namespace() {
  static const std::string ns = [] {
    char buf[64] = {};
    ssize_t n = ::readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
    std::string link(buf, n > 0 ? static_cast<size_t>(n) : 0);
    auto open = link.find('['), close = link.find(']');
    return open != std::string::npos && close != std::string::npos
               ? link.substr(open + 1, close - open - 1)
               : std::string("0");
  }();
  return ns;
}

}  // namespace

std::string temp_name_of(const std::string& prefix, long pid) {
  return prefix + std::to_string(pid) + "-" + pid_namespace() + "-" + random_hex(12);
}

std::string owned_temp_name(const std::string& prefix) {
  return temp_name_of(prefix, ::getpid());
}

bool hold_temp(int fd) {
  return ::flock(fd, LOCK_SH | LOCK_NB) == 0;
}

void TempHolds::keep(int fd) {
  UniqueFd own(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!own) return;
  hold_temp(own.get());
  std::lock_guard<std::mutex> lock(mu_);
  fds_.push_back(std::move(own));
}

namespace {

// What the lock on the entry `name` of dir says: nothing (not a file or directory, or gone),
// held by a live process, free, or nothing either way (a filesystem without locks).
enum class LockSays { unknown, held, free, no_locks };

LockSays lock_of(int dirfd, const std::string& name, struct stat* st) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd || ::fstat(fd.get(), st) != 0 || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)))
    return LockSays::unknown;
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return LockSays::free;
  return errno == EWOULDBLOCK ? LockSays::held : LockSays::no_locks;
}

// Another namespace's entry: only one nobody holds, older than the grace, goes.
bool unheld_and_old(int dirfd, const std::string& name) {
  struct stat st {};
  return lock_of(dirfd, name, &st) == LockSays::free &&
         std::time(nullptr) - st.st_mtime >= kForeignGraceSeconds;
}

// This namespace's entry of a dead pid: it goes unless a live process holds its lock (the
// same namespace on another machine sharing the directory over NFS).
bool held(int dirfd, const std::string& name) {
  struct stat st {};
  return lock_of(dirfd, name, &st) == LockSays::held;
}

}  // namespace

int remove_stale(const std::string& dir, const std::string& prefix) {
  UniqueFd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd) return 0;
  return remove_stale_at(dirfd.get(), dir, prefix);
}

int remove_stale_at(int dirfd, const std::string& dir, const std::string& prefix) {
  UniqueFd listing(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listing) return 0;
  DIR* d = ::fdopendir(listing.get());
  if (!d) return 0;
  (void)listing.release();  // closedir closes it
  const std::string ours = pid_namespace();
  std::vector<std::string> stale;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || !end || *end != '-') continue;
    std::string rest = end + 1;
    auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0) continue;
    if (rest.substr(0, dash) == ours) {
      // The pid alone is not enough: another machine sharing the directory (NFS) has the
      // same initial namespace, and its live writer holds the lock.
      if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH && !held(dirfd, name))
        stale.push_back(name);
    } else if (unheld_and_old(dirfd, name)) {
      stale.push_back(name);
    }
  }
  ::closedir(d);
  for (const auto& name : stale) {
    if (remove_tree_at(dirfd, name, dir + "/" + name).ok())
      log_verbose("removed the leftover " + dir + "/" + name);
  }
  return static_cast<int>(stale.size());
}

}  // namespace regcache
