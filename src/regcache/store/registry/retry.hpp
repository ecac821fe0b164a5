// The one transport policy: what is retried (connection errors, 408, 429, 5xx), how long
// to wait (exponential backoff with jitter, or the server's Retry-After, capped), and how
// often: one budget of attempts per logical operation, which its ranged resumes and
// upload restarts draw from too (oras-go's retry.Policy and restic's retry backend are
// the models). Permanent failures are never retried.
#pragma once

#include <chrono>
#include <ctime>
#include <functional>
#include <optional>
#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

using SteadyTime = std::chrono::steady_clock::time_point;

struct RetryPolicy {
  int max_attempts = 5;                        // per logical operation
  std::chrono::milliseconds first_delay{250};  // doubles per attempt, ±25% jitter
  std::chrono::milliseconds max_delay{30000};  // Retry-After included
  std::optional<SteadyTime> deadline;          // no attempt, and no wait, past it
  // Waits until the time given; tests replace it to record the waits instead.
  std::function<Status(SteadyTime)> sleep_until;
  // The clock a wait is reckoned from (empty: steady_clock); tests stop it, so that a wait
  // they record is the policy's, however long the machine took to get there.
  std::function<SteadyTime()> now;
  // The wall clock an HTTP-date Retry-After is reckoned from (empty: time()); tests fix it.
  std::function<time_t()> wall_now;
};

// Returns true for HTTP statuses worth another attempt: 408, 429 and 5xx.
bool retryable_status(long status);

// Returns the wait before the next attempt after `attempt` failed ones: Retry-After
// (seconds, or an HTTP-date) when the server gave one, else exponential with jitter; at
// most max_delay.
std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt,
                                      const std::string& retry_after);

// Returns the milliseconds left before deadline (0: none set, no limit), rounded up so a
// request never gives up early; ErrorKind::timeout once it has passed, naming `what`.
Result<long> ms_left(const std::optional<SteadyTime>& deadline, const std::string& what);

// One logical operation's attempts.
class AttemptBudget {
 public:
  explicit AttemptBudget(const RetryPolicy& policy) : policy_(policy) {}
  // Called after a transient failure: waits the backoff and returns ok when another attempt
  // may follow; else returns `failure` (budget spent), a timeout or an interruption.
  Status retry_after(const Error& failure, const std::string& retry_after_header = "");
  // Returns the attempts made so far (1 before the first retry).
  int attempts() const { return attempts_; }

 private:
  const RetryPolicy& policy_;
  int attempts_ = 1;
};

}  // namespace regcache
