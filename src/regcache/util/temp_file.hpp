// A temporary file this process writes: created exclusively, held (util/stale.hpp) while it
// exists so that no other run clears it away, and removed when it goes out of scope
// unless it was linked elsewhere first.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

struct TempFile {
  std::string path;
  UniqueFd fd;
  explicit TempFile(std::string p) : path(std::move(p)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd) ::unlink(path.c_str());
  }
  // Creates the file, which must not exist.
  Status create() {
    fd.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return errno_error("cannot create", path, errno);
    hold_temp(fd.get());
    return {};
  }
};

}  // namespace regcache
