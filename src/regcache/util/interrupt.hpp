// Cancellation: CI systems cancel a job with SIGINT, then SIGTERM. The handlers only
// record the signal; pipelines notice it at their next step (a chunk of bytes, a file, a
// transfer's progress callback, a retry's sleep), fail with ErrorKind::interrupted, and
// clean up on their ordinary error paths: staging removed, nothing tagged.
#pragma once

#include <chrono>

#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

// Installs the SIGINT and SIGTERM handlers (call once, early in main).
void install_interrupt_handlers();

// Returns the first cancelling signal received (SIGINT or SIGTERM), or 0.
int interrupt_signal();

// Returns an ErrorKind::interrupted error once a signal arrived, else ok.
Status check_interrupted();

// Sleeps until `when`, or fails as soon as a signal arrives.
Status sleep_until_or_interrupted(std::chrono::steady_clock::time_point when);

// Passes bytes on, failing once a signal arrived.
class InterruptibleSink : public Sink {
 public:
  explicit InterruptibleSink(Sink* next) : next_(next) {}
  Status write(const char* data, size_t size) override {
    RC_CHECK(check_interrupted());
    return next_->write(data, size);
  }
  Status finish() override { return next_->finish(); }

 private:
  Sink* next_;
};

}  // namespace regcache
