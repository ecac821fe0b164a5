// The layout's lock: an exclusive flock on <layout>/.regcache.lock, held by whoever
// rewrites index.json (a save tagging its manifest, a delete, a recorded use, the garbage
// collector), so several processes can share one layout.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace regcache {

class LayoutLock {
 public:
  static constexpr const char* kLockName = ".regcache.lock";

  // Blocks until the lock on the layout whose directory is root_fd is held; ok() is false,
  // errno saying why, when the lock file cannot be opened (never through a symlink planted in
  // its place) or locked (a file system without locks: writing unlocked could lose the tags
  // of concurrent writers).
  explicit LayoutLock(int root_fd) {
    fd_ = ::openat(root_fd, kLockName, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) return;
    int r;
    while ((r = ::flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (r != 0) {
      const int why = errno;
      ::close(fd_);
      fd_ = -1;
      errno = why;
    }
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

// Returns the lock file of the layout at root (for messages).
inline std::string layout_lock_path(const std::string& root) {
  return root + "/" + LayoutLock::kLockName;
}

}  // namespace regcache
