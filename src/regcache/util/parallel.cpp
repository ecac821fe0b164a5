#include "regcache/util/parallel.hpp"

#include "regcache/util/guarded.hpp"
#include "regcache/util/interrupt.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace regcache {

Status parallel_for(size_t n, size_t jobs, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::optional<Error> first;
  auto worker = [&] {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= n || failed) return;
      Status st = check_interrupted();
      if (st.ok()) st = guarded([&] { return fn(i); });
      if (!st.ok()) {
        std::lock_guard lock(mu);
        if (!first) first = st.error();
        failed = true;
        return;
      }
    }
  };
  size_t threads = std::max<size_t>(1, std::min(jobs, n));
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (first) return *first;
  return {};
}

}  // namespace regcache
