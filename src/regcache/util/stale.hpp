// Leftovers of killed runs. A temporary name carries its owner's pid and PID namespace, and
// the owner holds a lock (flock) on the entry while it lives. A later run removes an entry
// nobody holds whose owner is gone: in its own namespace it asks the kernel about the pid;
// from another namespace (a container sharing a layout or a workspace), where a pid means
// nothing, it goes by the lock alone, and only once the entry is older than a grace period.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "regcache/util/fd.hpp"

namespace regcache {

// Returns prefix + "<pid>-<pid namespace>-<random>": a temporary name owned by this process.
std::string owned_temp_name(const std::string& prefix);

// Returns the name owned_temp_name would give a process `pid` of this PID namespace (tests).
std::string temp_name_of(const std::string& prefix, long pid);

// Marks the temporary open as `fd` as held until every descriptor sharing fd's open file is
// closed. Returns false when the file system has no locks (the entry is then judged by pid).
bool hold_temp(int fd);

// Temporaries held for as long as this object lives (thread-safe).
class TempHolds {
 public:
  // Holds the temporary open as `fd` through a descriptor of its own (fd stays the caller's).
  void keep(int fd);

 private:
  std::mutex mu_;
  std::vector<UniqueFd> fds_;
};

// Entries of another PID namespace are removed only when older than this (seconds): it
// covers the moment between creating an entry and locking it.
inline constexpr int kForeignGraceSeconds = 600;

// Removes entries of dir named by owned_temp_name that are leftovers (see above). Returns how
// many were removed; failures are ignored (a leftover is only clutter).
int remove_stale(const std::string& dir, const std::string& prefix);

// Does what remove_stale does in the open directory dirfd, which `shown` names in messages.
int remove_stale_at(int dirfd, const std::string& shown, const std::string& prefix);

}  // namespace regcache
