#include "regcache/store/registry/retry.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <random>

#include "regcache/util/interrupt.hpp"

namespace regcache {

bool retryable_status(long status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

std::chrono::milliseconds retry_delay(const RetryPolicy& p, int attempt,
                                      const std::string& retry_after) {
  using std::chrono::milliseconds;
  if (!retry_after.empty() && std::all_of(retry_after.begin(), retry_after.end(),
                                          [](char c) { return c >= '0' && c <= '9'; })) {
    double seconds =
        std::strtod(retry_after.c_str(), nullptr);  // a huge value is HUGE_VAL, not a throw
    double capped = std::min(seconds * 1000.0, static_cast<double>(p.max_delay.count()));
    return milliseconds(static_cast<long>(capped));
  }
  // The other form, an HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT"): the wait until then.
  if (!retry_after.empty()) {
    const time_t when = curl_getdate(retry_after.c_str(), nullptr);
    if (when > 0) {
      const double seconds = std::difftime(when, p.wall_now ? p.wall_now() : std::time(nullptr));
      const double capped =
          std::clamp(seconds * 1000.0, 0.0, static_cast<double>(p.max_delay.count()));
      return milliseconds(static_cast<long>(capped));
    }
  }
  double delay = static_cast<double>(p.first_delay.count()) *
                 static_cast<double>(1 << std::min(attempt - 1, 10));
  thread_local std::mt19937 rng{std::random_device{}()};
  delay *= std::uniform_real_distribution<double>(0.75, 1.25)(rng);
  return milliseconds(static_cast<long>(std::min(delay, static_cast<double>(p.max_delay.count()))));
}

Result<long> ms_left(const std::optional<SteadyTime>& deadline, const std::string& what) {
  if (!deadline) return 0L;
  auto left =
      std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now())
          .count();
  if (left <= 0) return make_error(ErrorKind::timeout, what + ": gave up, the time budget ran out");
  return static_cast<long>(left);
}

Status AttemptBudget::retry_after(const Error& failure, const std::string& retry_after_header) {
  if (failure.kind == ErrorKind::interrupted || attempts_ >= policy_.max_attempts) return failure;
  SteadyTime now = policy_.now ? policy_.now() : std::chrono::steady_clock::now();
  SteadyTime wake = now + retry_delay(policy_, attempts_, retry_after_header);
  auto sleep = policy_.sleep_until ? policy_.sleep_until : sleep_until_or_interrupted;
  if (policy_.deadline && wake >= *policy_.deadline) {
    RC_CHECK(sleep(*policy_.deadline));
    return make_error(ErrorKind::timeout,
                      failure.message + " (the time budget ran out before another try)");
  }
  RC_CHECK(sleep(wake));
  ++attempts_;
  return {};
}

}  // namespace regcache
