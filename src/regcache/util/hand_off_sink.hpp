// A sink that passes its bytes to another sink on a thread of its own, so that what feeds
// it (a download and its digest) and what consumes it (decompression, files written) run
// at once on two cores. Bytes are copied into a few buffers of a fixed size: memory stays
// bounded, and the writer waits while they are all full.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "regcache/util/sink.hpp"

namespace regcache {

class HandOffSink : public Sink {
 public:
  // Passes bytes to `next` (which must outlive it) in chunks of `chunk` bytes, at most
  // `depth` of them waiting. Without a thread it writes to `next` directly.
  explicit HandOffSink(Sink* next, size_t chunk = 1u << 20, size_t depth = 4);
  HandOffSink(const HandOffSink&) = delete;
  HandOffSink& operator=(const HandOffSink&) = delete;
  ~HandOffSink() override;  // drains what was written and stops the thread

  // Returns next's first error once it is known (bytes after it are dropped).
  Status write(const char* data, size_t size) override;
  // Drains, then finishes `next`.
  Status finish() override;
  // Waits until `next` has taken every byte written and stops the thread; returns next's
  // first error. After it, `next` may be read from the calling thread.
  Status drain();

 private:
  void run();
  Status push_current(std::unique_lock<std::mutex>& lock);

  Sink* next_;
  size_t chunk_, depth_;
  std::string current_;  // filled by write, handed off when full
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;  // full chunks, oldest first
  std::vector<std::string> spare_;
  Status error_;  // next's first error
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace regcache
