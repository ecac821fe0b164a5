#include "regcache/util/units.hpp"

#include <cerrno>
#include <cstdlib>

#include <cctype>
#include <cmath>
#include <string>
#include <utility>

namespace regcache {

namespace {

Error bad_size(std::string_view what, std::string_view text, std::string_view hint) {
  return make_error(ErrorKind::usage, "invalid " + std::string(what) + " '" + std::string(text) +
                                          "' (" + std::string(hint) + ")");
}

// Splits "12.5GiB" into 12.5 and "GiB"; nullopt-like (false) when there is no number.
bool split_number(std::string_view s, size_t* pos, double* value, bool allow_fraction) {
  size_t start = *pos, i = start;
  while (i < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[i])) || (allow_fraction && s[i] == '.'))) {
    ++i;
  }
  if (i == start) return false;
  std::string digits(s.substr(start, i - start));
  char* end = nullptr;
  errno = 0;
  *value = std::strtod(digits.c_str(), &end);  // no exception, unlike std::stod
  if (end != digits.c_str() + digits.size() || errno == ERANGE) return false;
  *pos = i;
  return true;
}

constexpr uint64_t kMaxDurationSeconds = 36500ull * 86400;  // 100 years

}  // namespace

Result<double> parse_seconds(std::string_view text) {
  size_t pos = 0;
  double n = 0;
  // split_number refuses "1.2.3" (strtod stops short), signs, exponents and hex.
  if (!split_number(text, &pos, &n, true) || pos != text.size() || text.front() == '.' ||
      text.back() == '.') {
    return bad_size("number of seconds", text, "use digits, e.g. 90 or 2.5");
  }
  return n;
}

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  constexpr const char* hint = "use e.g. 30m, 36h, 7d or 2w";
  if (text.empty()) return bad_size("duration", text, hint);
  uint64_t total = 0;
  size_t pos = 0;
  bool had_unit = false;
  while (pos < text.size()) {
    double n = 0;
    if (!split_number(text, &pos, &n, false)) return bad_size("duration", text, hint);
    uint64_t unit = 1;
    if (pos < text.size()) {
      had_unit = true;
      switch (text[pos++]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        case 'w':
          unit = 7 * 86400;
          break;
        default:
          return bad_size("duration", text, hint);
      }
    } else if (had_unit) {
      return bad_size("duration", text, hint);  // "1d5", "0d5": a unit is missing
    }
    // Past the cap, a time computed from it would wrap around (prune would then take an
    // age of "never" for "always"); no retention needs more than a century.
    if (n > static_cast<double>(kMaxDurationSeconds) ||
        (total += static_cast<uint64_t>(n) * unit) > kMaxDurationSeconds) {
      return bad_size("duration", text, "at most 36500d");
    }
  }
  return std::chrono::seconds(static_cast<int64_t>(total));
}

Result<uint64_t> parse_size(std::string_view text) {
  constexpr const char* hint = "use e.g. 500M, 700KiB, 10G or 2GB";
  size_t pos = 0;
  double n = 0;
  if (!split_number(text, &pos, &n, true)) return bad_size("size", text, hint);
  std::string unit(text.substr(pos));
  static const std::pair<const char*, double> units[] = {{"", 1},
                                                         {"B", 1},
                                                         {"K", 1024.0},
                                                         {"KiB", 1024.0},
                                                         {"KB", 1e3},
                                                         {"M", 1 << 20},
                                                         {"MiB", 1 << 20},
                                                         {"MB", 1e6},
                                                         {"G", 1 << 30},
                                                         {"GiB", 1 << 30},
                                                         {"GB", 1e9},
                                                         {"T", 1099511627776.0},
                                                         {"TiB", 1099511627776.0},
                                                         {"TB", 1e12}};
  for (const auto& [name, factor] : units) {
    std::string lower_name = name, lower_unit = unit;
    for (auto& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : lower_unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower_unit == lower_name) {
      double v = std::floor(n * factor);
      if (v > 1.8e19) return bad_size("size", text, "too large");
      return static_cast<uint64_t>(v);
    }
  }
  return bad_size("size", text, hint);
}

}  // namespace regcache
