#include "regcache/util/file_copy.hpp"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include "regcache/util/fs.hpp"

namespace regcache {

Status copy_file_bytes(int in, int out, const std::string& shown) {
  for (;;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, size_t{1} << 30, 0);
    if (n == 0) return {};
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      return errno_error("cannot copy", shown, errno);
    break;
  }
  std::vector<char> buf(size_t{1} << 17);
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n == 0) return {};
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read", shown, errno);
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf.data() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return errno_error("cannot write", shown, errno);
      off += w;
    }
  }
}

}  // namespace regcache
