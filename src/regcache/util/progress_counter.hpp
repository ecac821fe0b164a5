// Bytes done out of a total, shared between a pipeline's threads and whoever reports it.
#pragma once

#include <atomic>
#include <cstdint>

#include "regcache/util/sink.hpp"

namespace regcache {

struct ProgressCounter {
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> total{0};
};

// Passes bytes on, adding their count to a progress counter (which may be null).
class ProgressSink : public Sink {
 public:
  ProgressSink(Sink* next, ProgressCounter* counter) : next_(next), counter_(counter) {}
  Status write(const char* data, size_t size) override {
    if (counter_) counter_->done += size;
    return next_->write(data, size);
  }
  Status finish() override { return next_->finish(); }

 private:
  Sink* next_;
  ProgressCounter* counter_;
};

}  // namespace regcache
