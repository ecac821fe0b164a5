#include "regcache/util/stale.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

std::string owned_temp_name(const std::string& prefix) {
  return prefix + std::to_string(::getpid()) + "-" + random_hex(12);
}

int remove_stale(const std::string& dir, const std::string& prefix) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  std::vector<std::string> stale;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || !end || *end != '-') continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : stale) {
    if (remove_tree(dir + "/" + name).ok()) log_verbose("removed the leftover " + dir + "/" + name);
  }
  return static_cast<int>(stale.size());
}

}  // namespace regcache
