#include "regcache/store/registry/ranged_download.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace regcache {

Status download_in_ranges(const RangePlan& plan, const RangeFetch& fetch, Sink* out) {
  if (plan.from >= plan.size) return {};
  const uint64_t chunk = std::max<uint64_t>(plan.chunk, 1);
  const uint64_t count = (plan.size - plan.from + chunk - 1) / chunk;
  auto offset_of = [&](uint64_t i) { return plan.from + i * chunk; };
  auto length_of = [&](uint64_t i) { return std::min(chunk, plan.size - offset_of(i)); };

  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, Result<std::string>> ready;  // fetched, not yet written
  uint64_t next_fetch = 0, next_write = 0;
  bool stop = false;
  const size_t window = std::max<size_t>(plan.window, 1);

  auto worker = [&] {
    for (;;) {
      uint64_t i;
      {
        std::unique_lock lock(mu);
        cv.wait(lock,
                [&] { return stop || next_fetch >= count || next_fetch < next_write + window; });
        if (stop || next_fetch >= count) return;
        i = next_fetch++;
      }
      auto bytes = fetch(offset_of(i), length_of(i));
      if (bytes.ok() && bytes->size() != length_of(i)) {
        bytes = make_error(ErrorKind::integrity, "range at " + std::to_string(offset_of(i)) +
                                                     " came with " + std::to_string(bytes->size()) +
                                                     " bytes instead of " +
                                                     std::to_string(length_of(i)));
      }
      {
        std::lock_guard lock(mu);
        ready.emplace(i, std::move(bytes));
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> workers;
  for (size_t w = 0; w < std::min<uint64_t>(window, count); ++w) workers.emplace_back(worker);

  Status result;
  while (next_write < count) {
    Result<std::string> bytes = std::string();
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return ready.count(next_write) > 0; });
      auto it = ready.find(next_write);
      bytes = std::move(it->second);
      ready.erase(it);
    }
    Status st = bytes.ok() ? out->write(bytes->data(), bytes->size()) : Status(bytes.error());
    std::lock_guard lock(mu);
    if (!st.ok()) {
      result = st;
      stop = true;
    } else {
      ++next_write;
    }
    cv.notify_all();
    if (stop) break;
  }
  for (auto& t : workers) t.join();
  return result;
}

}  // namespace regcache
