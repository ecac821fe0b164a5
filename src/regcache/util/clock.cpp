#include "regcache/util/clock.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace regcache {

namespace {
std::optional<TimePoint> g_fixed;  // set once at start-up, read afterwards
}  // namespace

void set_fixed_time(std::optional<TimePoint> t) {
  g_fixed = t;
}

TimePoint current_time() {
  return g_fixed ? *g_fixed : std::chrono::system_clock::now();
}

std::optional<TimePoint> parse_rfc3339(std::string_view s) {
  std::tm tm{};
  int consumed = 0;
  std::string text(s);
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t secs = timegm(&tm);
  size_t pos = 19;
  long long nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    int digits = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
      if (digits++ < 9) nanos = nanos * 10 + (text[pos] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  long offset = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') &&
             text[pos + 3] == ':') {
    int h = std::atoi(text.substr(pos + 1, 2).c_str()), m = std::atoi(text.substr(pos + 4).c_str());
    offset = (text[pos] == '-' ? -1 : 1) * (h * 3600L + m * 60L);
    pos = text.size();
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return std::chrono::system_clock::from_time_t(secs - offset) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::nanoseconds(nanos));
}

std::string format_rfc3339(TimePoint t) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  if (secs > t) secs -= std::chrono::seconds(1);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - secs).count();
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%09lldZ", buf, static_cast<long long>(ns));
  return out;
}

}  // namespace regcache
