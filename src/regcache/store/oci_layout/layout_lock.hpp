// The layout's lock: an exclusive flock on <layout>/.regcache.lock, held by whoever
// rewrites index.json (a save tagging its manifest, a delete, a recorded use, the garbage
// collector), so several processes can share one layout. Waiting for it is bounded: anyone
// who can read the layout can hold the lock (flock needs no write access), and a command
// must not hang on them.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "regcache/util/fs.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

// How long a command waits for a layout's lock before giving up: far longer than any
// holder of ours keeps it (a rewrite of index.json, a garbage collection).
inline constexpr std::chrono::seconds kLayoutLockPatience{60};
// How long a local tier waits for it: the tier only saves downloads, and goes without.
inline constexpr std::chrono::seconds kTierLockPatience{5};

class LayoutLock {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr const char* kLockName = ".regcache.lock";

  // Takes the lock on the layout whose directory is root_fd, waiting until `until` at most;
  // ok() is false, errno saying why, when the lock file cannot be opened (never through a
  // symlink planted in its place), the file system has no locks (writing unlocked could
  // lose the tags of concurrent writers), or another process held it until then
  // (EWOULDBLOCK).
  LayoutLock(int root_fd, Clock::time_point until) {
    fd_ = ::openat(root_fd, kLockName, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) return;
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
      if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
      if (errno == EINTR) continue;
      const auto now = Clock::now();
      if (errno != EWOULDBLOCK || now >= until) break;
      std::this_thread::sleep_for(std::min<Clock::duration>(pause, until - now));
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
    const int why = errno;
    ::close(fd_);
    fd_ = -1;
    errno = why;
  }
  ~LayoutLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  LayoutLock(const LayoutLock&) = delete;
  LayoutLock& operator=(const LayoutLock&) = delete;
  // Returns true when the lock is held.
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Returns when a wait for the lock ends: after `patience`, or at `deadline` if sooner.
inline LayoutLock::Clock::time_point lock_wait_end(
    std::chrono::seconds patience, std::optional<LayoutLock::Clock::time_point> deadline) {
  const auto end = LayoutLock::Clock::now() + patience;
  return deadline ? std::min(end, *deadline) : end;
}

// Returns the lock file of the layout at root (for messages).
inline std::string layout_lock_path(const std::string& root) {
  return root + "/" + LayoutLock::kLockName;
}

// Returns the error for a lock not taken (errno `err`): held too long by another process
// (a timeout), or it could not be taken at all.
inline Error layout_lock_error(const std::string& root, int err) {
  if (err == EWOULDBLOCK)
    return Error{ErrorKind::timeout,
                 layout_lock_path(root) + " is held by another process; gave up waiting for it"};
  return errno_error("cannot lock", layout_lock_path(root), err);
}

}  // namespace regcache
