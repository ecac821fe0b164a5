// Wall-clock time as regcache sees it. REGCACHE_NOW (RFC 3339) overrides the clock, so
// tests can save entries "in the past" and prune them at a chosen moment.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace regcache {

using TimePoint = std::chrono::system_clock::time_point;

// Makes current_time() return t (tests pin the clock with REGCACHE_NOW); nullopt: the
// system clock. Call before starting threads.
void set_fixed_time(std::optional<TimePoint> t);

// Returns the fixed time when one is set, else the system clock.
TimePoint current_time();

// Parses an RFC 3339 UTC time ("2026-01-01T00:00:00Z", fractions and offsets allowed);
// nullopt when malformed.
std::optional<TimePoint> parse_rfc3339(std::string_view text);

// Formats a time as RFC 3339 UTC with nanoseconds ("2026-01-01T00:00:00.000000000Z").
std::string format_rfc3339(TimePoint t);

}  // namespace regcache
