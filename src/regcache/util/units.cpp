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

}  // namespace

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  constexpr const char* hint = "use e.g. 30m, 36h, 7d or 2w";
  if (text.empty()) return bad_size("duration", text, hint);
  uint64_t total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    double n = 0;
    if (!split_number(text, &pos, &n, false)) return bad_size("duration", text, hint);
    uint64_t unit = 1;
    if (pos < text.size()) {
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
    } else if (total != 0) {
      return bad_size("duration", text, hint);  // "1d5": a unit is missing
    }
    if (n > 1e12) return bad_size("duration", text, "too large");
    total += static_cast<uint64_t>(n) * unit;
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
