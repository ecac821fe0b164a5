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

// Parses an RFC 3339 time ("2026-01-01T00:00:00Z", fractions and offsets allowed) of the
// years 1970 to 2200; nullopt when malformed or outside them.
std::optional<TimePoint> parse_rfc3339(std::string_view text);

// How far ahead of this machine's clock another machine's may be: a time written later
// than that was chosen by its writer, not read from a clock.
inline constexpr std::chrono::hours kClockSkewAllowance{24};

// Parses a time another process wrote (a created or last-use time); nullopt when it is
// malformed or later than current_time() plus kClockSkewAllowance.
std::optional<TimePoint> parse_written_time(std::string_view text);

// Formats a time as RFC 3339 UTC with nanoseconds ("2026-01-01T00:00:00.000000000Z").
std::string format_rfc3339(TimePoint t);

}  // namespace regcache
