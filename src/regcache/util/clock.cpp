#include "regcache/util/clock.hpp"

#include <cstdio>
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

namespace {

// Reads the decimal digits of text[pos, pos + n) into *out; false when one is not a digit.
bool digits_at(std::string_view text, size_t pos, size_t n, int* out) {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<TimePoint> parse_rfc3339(std::string_view text) {
  // Digits exactly where RFC 3339 puts them, each field in its range. Years are held to
  // 1970-2200: a time point counts nanoseconds in 64 bits (1678-2262), and a time a pusher
  // wrote outside them would otherwise wrap around into any other.
  std::tm tm{};
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':' ||
      !digits_at(text, 0, 4, &tm.tm_year) || !digits_at(text, 5, 2, &tm.tm_mon) ||
      !digits_at(text, 8, 2, &tm.tm_mday) || !digits_at(text, 11, 2, &tm.tm_hour) ||
      !digits_at(text, 14, 2, &tm.tm_min) || !digits_at(text, 17, 2, &tm.tm_sec))
    return std::nullopt;
  if (tm.tm_year < 1970 || tm.tm_year > 2200 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return std::nullopt;
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
  int h = 0, m = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') &&
             text[pos + 3] == ':' && digits_at(text, pos + 1, 2, &h) &&
             digits_at(text, pos + 4, 2, &m) && h <= 23 && m <= 59) {
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

std::optional<TimePoint> parse_written_time(std::string_view text) {
  auto t = parse_rfc3339(text);
  if (!t || *t > current_time() + kClockSkewAllowance) return std::nullopt;
  return t;
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
