// Small helpers shared by the unit tests: temporary directories and file creation.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "regcache/util/fs.hpp"

namespace regcache::testing {

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() : TempDir(std::filesystem::temp_directory_path().string()) {}
  // A new directory under base (another file system than TMPDIR's, for instance).
  explicit TempDir(const std::string& base) {
    path_ = base + "/regcache-test-" + random_hex(12);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Writes content to path, creating parent directories.
inline void write_file(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// Reads a whole file.
inline std::string slurp(const std::string& path) {
  auto r = read_file(path);
  return r.ok() ? r.value() : std::string("<missing>");
}

// Returns true when something (even a dangling symlink) exists at path.
inline bool exists_nofollow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace regcache::testing
