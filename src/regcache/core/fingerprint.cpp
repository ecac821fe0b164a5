// XXH3-128 (xxHash) rather than SHA-256: the fingerprint only has to tell "same pack" from
// "changed pack" between two saves of one cache, never to resist an attacker (a forged
// match could only make a save reuse the attacker's own base layer, which restore already
// treats as untrusted input), and it runs over every cached byte on every save, where
// XXH3 is an order of magnitude faster than SHA-256. Metadata and content are both
// hashed, so a file rewritten with the same size and mtime still changes its pack.
#include "regcache/core/fingerprint.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "regcache/util/fs.hpp"

namespace regcache {

namespace {

struct StateDeleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

void add_field(XXH3_state_t* st, const std::string& s) {
  uint64_t n = s.size();
  XXH3_128bits_update(st, &n, sizeof n);
  XXH3_128bits_update(st, s.data(), s.size());
}

template <class T>
void add_value(XXH3_state_t* st, T v) {
  XXH3_128bits_update(st, &v, sizeof v);
}

Status add_content(XXH3_state_t* st, const FileEntry& e) {
  int fd = ::open(e.source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno_error("cannot open", e.source, errno);
  static thread_local std::array<char, 1 << 18> buf;
  uint64_t total = 0;
  Status result;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) result = errno_error("cannot read", e.source, errno);
    if (n <= 0) break;
    XXH3_128bits_update(st, buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  add_value(st, total);
  return result;
}

}  // namespace

Result<std::string> pack_fingerprint(const std::vector<FileEntry>& entries, const Pack& pack) {
  std::unique_ptr<XXH3_state_t, StateDeleter> st(XXH3_createState());
  XXH3_128bits_reset(st.get());
  for (size_t i : pack.entries) {
    const FileEntry& e = entries[i];
    add_field(st.get(), e.path);
    add_value(st.get(), static_cast<uint8_t>(e.type));
    add_value(st.get(), e.mode);
    add_value(st.get(), e.size);
    add_value(st.get(), e.mtime_sec);
    add_value(st.get(), e.mtime_nsec);
    add_field(st.get(), e.link_target);
    if (e.type == FileType::regular) RC_CHECK(add_content(st.get(), e));
  }
  XXH128_hash_t h = XXH3_128bits_digest(st.get());
  char hex[64];
  std::snprintf(hex, sizeof hex, "xxh3-128:%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return std::string(hex);
}

}  // namespace regcache
