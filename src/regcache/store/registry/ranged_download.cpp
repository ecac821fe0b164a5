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
  const size_t window = std::max<size_t>(plan.window, 1);
  // The window's buffers: a range is fetched into a free one and returns it once written.
  std::vector<std::string> free_buffers(std::min<uint64_t>(window, count));
  struct Fetched {
    Status status;
    std::string bytes;
  };
  std::map<uint64_t, Fetched> ready;  // fetched, not yet written
  uint64_t next_fetch = 0, next_write = 0;
  bool stop = false;

  auto worker = [&] {
    for (;;) {
      uint64_t i;
      std::string buffer;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] {
          return stop || next_fetch >= count ||
                 (next_fetch < next_write + window && !free_buffers.empty());
        });
        if (stop || next_fetch >= count) return;
        i = next_fetch++;
        buffer = std::move(free_buffers.back());
        free_buffers.pop_back();
      }
      Status st = fetch(offset_of(i), length_of(i), &buffer);
      if (st.ok() && buffer.size() != length_of(i)) {
        st = make_error(ErrorKind::integrity, "range at " + std::to_string(offset_of(i)) +
                                                  " came with " + std::to_string(buffer.size()) +
                                                  " bytes instead of " +
                                                  std::to_string(length_of(i)));
      }
      {
        std::lock_guard lock(mu);
        ready.emplace(i, Fetched{std::move(st), std::move(buffer)});
      }
      cv.notify_all();
    }
  };
  // Counted before the first starts: the workers take buffers from the list at once.
  const size_t worker_count = free_buffers.size();
  std::vector<std::thread> workers;
  for (size_t w = 0; w < worker_count; ++w) workers.emplace_back(worker);

  Status result;
  while (next_write < count) {
    Fetched got;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return ready.count(next_write) > 0; });
      auto it = ready.find(next_write);
      got = std::move(it->second);
      ready.erase(it);
    }
    Status st = got.status.ok() ? out->write(got.bytes.data(), got.bytes.size()) : got.status;
    {
      std::lock_guard lock(mu);
      free_buffers.push_back(std::move(got.bytes));
      if (!st.ok()) {
        result = st;
        stop = true;
      } else {
        ++next_write;
      }
    }
    cv.notify_all();
    if (!result.ok()) break;
  }
  for (auto& t : workers) t.join();
  return result;
}

}  // namespace regcache
