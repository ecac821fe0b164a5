#include "regcache/util/fd_limit.hpp"

#include <sys/resource.h>

namespace regcache {

void raise_open_file_limit() {
  constexpr rlim_t kMost = 65536;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t want = lim.rlim_max == RLIM_INFINITY || lim.rlim_max > kMost ? kMost : lim.rlim_max;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < want) {
    lim.rlim_cur = want;
    (void)::setrlimit(RLIMIT_NOFILE, &lim);  // a refusal leaves the limit as it was
  }
}

}  // namespace regcache
