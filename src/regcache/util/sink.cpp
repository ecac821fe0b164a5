#include "regcache/util/sink.hpp"

#include <unistd.h>

#include <cerrno>

#include "regcache/util/fs.hpp"

namespace regcache {

Status StringSink::write(const char* data, size_t size) {
  if (data_.size() + size > max_) {
    return make_error(ErrorKind::integrity,
                      "response larger than " + std::to_string(max_) + " bytes");
  }
  data_.append(data, size);
  return {};
}

Status LimitSink::write(const char* data, size_t size) {
  bytes_ += size;
  if (bytes_ > limit_) {
    return make_error(ErrorKind::integrity, what_ + " is larger than its declared size");
  }
  return next_->write(data, size);
}

Status HashingSink::write(const char* data, size_t size) {
  hash_.update(data, size);
  bytes_ += size;
  return next_ ? next_->write(data, size) : Status{};
}

Status FdSink::write(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot write", path_, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

}  // namespace regcache
