#include "regcache/ecosystems/cargo_units.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "regcache/util/log.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

namespace fs = std::filesystem;

namespace {

bool later(const timespec& a, const timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}

enum class UnitState { used, restored_unused, other };

// Classifies one fingerprint directory from its files' times.
UnitState classify(const fs::path& dir) {
  bool any = false;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    struct stat st {};
    if (::lstat(f.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    any = true;
    bool restored = later(st.st_ctim, st.st_mtim);
    bool read_since = later(st.st_atim, st.st_mtim);
    if (!restored || read_since) return UnitState::used;
  }
  return any ? UnitState::restored_unused : UnitState::other;
}

// "serde-0123abcd" -> "0123abcd"; empty when the name has no hash part.
std::string hash_of(const std::string& unit) {
  auto dash = unit.rfind('-');
  return dash == std::string::npos ? "" : unit.substr(dash + 1);
}

}  // namespace

AtimeSupport probe_atime(const std::string& dir) {
  std::string path = dir + "/" + owned_temp_name(".regcache-atime-");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return AtimeSupport::frozen;
  AtimeSupport result = AtimeSupport::frozen;
  char c = 'x';
  timespec old[2] = {{1000000000, 0}, {1000000000, 0}};  // atime = mtime, long ago
  if (::write(fd, &c, 1) == 1 && ::futimens(fd, old) == 0 && ::pread(fd, &c, 1, 0) == 1) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_atim.tv_sec > old[0].tv_sec) result = AtimeSupport::updates;
  }
  ::close(fd);
  ::unlink(path.c_str());
  return result;
}

std::vector<std::string> unused_restored_units(const std::vector<std::string>& profile_dirs) {
  struct Profile {
    fs::path dir;
    std::set<std::string> unused_units, used_hashes, unused_hashes;
  };
  std::vector<Profile> profiles;
  size_t used = 0, unused = 0;
  std::error_code ec;
  for (const auto& dir : profile_dirs) {
    Profile p{dir, {}, {}, {}};
    for (const auto& d : fs::directory_iterator(p.dir / ".fingerprint", ec)) {
      std::string unit = d.path().filename();
      switch (classify(d.path())) {
        case UnitState::used:
          ++used;
          p.used_hashes.insert(hash_of(unit));
          break;
        case UnitState::restored_unused:
          ++unused;
          p.unused_units.insert(unit);
          p.unused_hashes.insert(hash_of(unit));
          break;
        case UnitState::other:
          break;
      }
    }
    profiles.push_back(std::move(p));
  }
  std::vector<std::string> out;
  if (unused == 0 || profiles.empty()) return out;
  if (used == 0) {
    log_verbose("rust: no cargo build since the restore; keeping every unit");
    return out;
  }
  if (probe_atime(profiles.front().dir) == AtimeSupport::frozen) {
    log_verbose("rust: the target directory does not record reads (noatime); keeping every unit");
    return out;
  }
  for (const auto& p : profiles) {
    for (const auto& u : p.unused_units) {
      out.push_back((p.dir / ".fingerprint" / u).string());
      out.push_back((p.dir / "build" / u).string());
    }
    for (const auto& f : fs::directory_iterator(p.dir / "deps", ec)) {
      std::string name = f.path().filename();
      std::string h = hash_of(name.substr(0, name.find('.')));
      if (!h.empty() && p.unused_hashes.count(h) && !p.used_hashes.count(h))
        out.push_back(f.path());
    }
  }
  log_verbose("rust: leaving out " + std::to_string(unused) +
              " restored build units this build did not use");
  return out;
}

}  // namespace regcache
