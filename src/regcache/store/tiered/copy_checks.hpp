// Checks of a local tier's blob copies against their digests, each made at most once per
// command: ahead, in one background thread, for the blobs that the tier's own manifest of
// an entry names (while the registry is asked which entry a tag names), or when a reader
// first asks. A reader that asks while a check runs waits for it; one that asks before it
// started makes it itself. The tier's reads then hash each copy once more, as the caller
// verifies them, instead of twice on the critical path.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "regcache/oci/descriptor.hpp"

namespace regcache {

// What a check found of a copy: it holds exactly the blob, there is none, or it holds
// other bytes (and was removed).
enum class LocalCopy { good, absent, damaged };

class CopyChecks {
 public:
  // Checks one copy; called from several threads at once. It returns absent, without
  // removing anything, once `stop` is set.
  using CheckFn = std::function<LocalCopy(const Descriptor&, const std::atomic<bool>& stop)>;
  // Lists the blobs to check ahead, in the order they will be read.
  using ListFn = std::function<std::vector<Descriptor>()>;

  explicit CopyChecks(CheckFn check) : check_(std::move(check)) {}
  CopyChecks(const CopyChecks&) = delete;
  CopyChecks& operator=(const CopyChecks&) = delete;
  ~CopyChecks();  // stops the checks ahead and waits for the one running

  // Starts checking, in the background, the blobs `list` returns; only the first call
  // does. Best effort: without a thread, every check waits for its reader.
  void check_ahead(ListFn list);
  // Returns what the check of d's copy found, made now unless it was made or runs.
  LocalCopy check(const Descriptor& d);

 private:
  struct Entry;
  std::shared_ptr<Entry> entry(const Descriptor& d);

  CheckFn check_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // by digest and size
  bool started_ = false;
  std::thread ahead_;
};

}  // namespace regcache
