// Shows a pipeline's progress on stderr while it runs: a bar on a terminal, one line every
// few seconds in a CI log, nothing with -q.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "regcache/util/progress_counter.hpp"

namespace regcache {

enum class ProgressStyle { off, bar, lines };

// Returns the style for this process: off when quiet, a bar when stderr is a terminal,
// else lines (REGCACHE_PROGRESS=off|bar|lines overrides).
ProgressStyle progress_style_from_env();

// Formats one progress report: "12.0 MiB / 40.0 MiB (30%), 3.0 MiB/s, ETA 9s".
std::string progress_text(uint64_t done, uint64_t total, double seconds);

class ProgressReporter {
 public:
  // Starts reporting `counter` as `verb` ("saving", "restoring") in the given style.
  ProgressReporter(std::string verb, const ProgressCounter* counter, ProgressStyle style);
  ~ProgressReporter();  // stops; a bar is erased
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

 private:
  void run();
  void draw(double seconds);
  std::string verb_;
  const ProgressCounter* counter_;
  ProgressStyle style_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool drawn_ = false;
  std::thread thread_;
};

}  // namespace regcache
