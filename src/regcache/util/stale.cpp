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

namespace {

// The inode number of this process's PID namespace ("pid:[4026531836]"), or "0".
const std::string& pid_namespace() {
  static const std::string ns = [] {
    char buf[64] = {};
    ssize_t n = ::readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
    std::string link(buf, n > 0 ? static_cast<size_t>(n) : 0);
    auto open = link.find('['), close = link.find(']');
    return open != std::string::npos && close != std::string::npos ? link.substr(open + 1, close - open - 1)
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

int remove_stale(const std::string& dir, const std::string& prefix) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  const std::string ns = "-" + pid_namespace() + "-";
  std::vector<std::string> stale;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || !end || std::string(end).compare(0, ns.size(), ns) != 0) continue;  // another namespace's
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : stale) {
    if (remove_tree(dir + "/" + name).ok()) log_verbose("removed the leftover " + dir + "/" + name);
  }
  return static_cast<int>(stale.size());
}

}  // namespace regcache
