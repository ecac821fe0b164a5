#include "regcache/cli/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "regcache/cli/output.hpp"
#include "regcache/cli/settings.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

ProgressStyle progress_style_from_env() {
  if (verbosity() == Verbosity::quiet) return ProgressStyle::off;
  switch (settings().progress) {
    case ProgressChoice::off:
      return ProgressStyle::off;
    case ProgressChoice::bar:
      return ProgressStyle::bar;
    case ProgressChoice::lines:
      return ProgressStyle::lines;
    case ProgressChoice::automatic:
      break;
  }
  return ::isatty(2) && !settings().dumb_terminal ? ProgressStyle::bar : ProgressStyle::lines;
}

std::string progress_text(uint64_t done, uint64_t total, double seconds) {
  if (total > 0 && done > total) done = total;
  std::string out = human_bytes(done);
  if (total > 0) out += fmt::format(" / {} ({}%)", human_bytes(total), done * 100 / total);
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  out += ", " + human_bytes(static_cast<uint64_t>(rate)) + "/s";
  if (total > 0 && rate > 0 && done < total) {
    out += fmt::format(", ETA {:.0f}s", static_cast<double>(total - done) / rate);
  }
  return out;
}

namespace {

std::chrono::milliseconds interval_for(ProgressStyle style) {
  if (style == ProgressStyle::bar) return std::chrono::milliseconds(200);
  return settings().progress_interval;
}

}  // namespace

ProgressReporter::ProgressReporter(std::string verb, const ProgressCounter* counter,
                                   ProgressStyle style)
    : verb_(std::move(verb)),
      counter_(counter),
      style_(style),
      start_(std::chrono::steady_clock::now()),
      interval_(interval_for(style)) {
  if (style_ != ProgressStyle::off) thread_ = std::thread([this] { run(); });
}

ProgressReporter::~ProgressReporter() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (style_ == ProgressStyle::bar && drawn_) std::fputs("\r\033[K", stderr);
}

void ProgressReporter::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_);
    draw(elapsed.count());
  }
}

void ProgressReporter::draw(double seconds) {
  uint64_t done = counter_->done, total = counter_->total;
  if (total == 0) return;  // still looking up keys or waiting on the registry: nothing to show
  std::string text = progress_text(done, total, seconds);
  if (style_ == ProgressStyle::lines) {
    std::fprintf(stderr, "regcache: %s %s\n", verb_.c_str(), text.c_str());
  } else {
    constexpr int kWidth = 24;
    int filled = total > 0 ? static_cast<int>(std::min(done, total) * kWidth / total) : 0;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %s", verb_.c_str(), bar.c_str(), text.c_str());
  }
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace regcache
