// Parsing of human durations ("7d", "36h", "1d12h") and sizes ("700KiB", "1G", "2.5GB").
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "regcache/util/result.hpp"

namespace regcache {

// Parses a duration: one or more <number><unit> with units s, m, h, d, w (a bare number
// is seconds), at most 100 years. The error (ErrorKind::usage) names the problem.
Result<std::chrono::seconds> parse_duration(std::string_view text);

// Parses a plain decimal number of seconds ("90", "2.5"): no sign, exponent or hex.
Result<double> parse_seconds(std::string_view text);

// Parses a size: <number>[unit], units B, K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024) and
// KB, MB, GB, TB (powers of 1000); the number may have a fraction. Errors: ErrorKind::usage.
Result<uint64_t> parse_size(std::string_view text);

}  // namespace regcache
