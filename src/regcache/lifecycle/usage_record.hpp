// Last-used tracking: a restore records when it used an entry, so `prune --by last-used`
// can keep old entries that are still restored. A local layout records it natively (an
// annotation in index.json, Store::record_use); a registry keeps one small OCI artifact
// under the tag `regcache-usage` (manifest annotations only, no blob of its own besides
// the 2-byte empty config), read-modify-written by each restore: one GET and one PUT,
// best effort, bounded to the newest kMaxUsageRecords entries. See docs/lifecycle.md.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "regcache/format/key_tag.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

inline constexpr size_t kMaxUsageRecords = 2000;

// Records one restore's use in a thread of its own, so that no request of it waits on
// the restore or the restore on it: the current record is read as soon as the recorder
// starts (beside the lookup), and written once the match is known (beside the downloads).
// Best effort: failures are logged with -v and never returned.
class UsageRecorder {
 public:
  // Starts reading the store's record; store must outlive the recorder.
  explicit UsageRecorder(Store& store);
  // Without a match, ends without writing; waits for the thread either way.
  ~UsageRecorder();
  UsageRecorder(const UsageRecorder&) = delete;
  UsageRecorder& operator=(const UsageRecorder&) = delete;
  // Records the use of manifest `digest` (the first call counts).
  void matched(const std::string& digest);

 private:
  void run();
  Store& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> digest_;
  bool closed_ = false;
  std::thread thread_;
};

// Returns the recorded last uses (manifest digest -> RFC 3339); empty when none.
Result<UsageTimes> read_usage(Store& store);

}  // namespace regcache
