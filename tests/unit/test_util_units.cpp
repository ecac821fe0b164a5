#include <gtest/gtest.h>

#include "regcache/util/clock.hpp"
#include "regcache/util/units.hpp"

using namespace regcache;
using std::chrono::seconds;

TEST(Units, Durations) {
  EXPECT_EQ(parse_duration("30m").value(), seconds(1800));
  EXPECT_EQ(parse_duration("36h").value(), seconds(36 * 3600));
  EXPECT_EQ(parse_duration("7d").value(), seconds(7 * 86400));
  EXPECT_EQ(parse_duration("2w").value(), seconds(14 * 86400));
  EXPECT_EQ(parse_duration("1d12h").value(), seconds(36 * 3600));
  EXPECT_EQ(parse_duration("90").value(), seconds(90));
  EXPECT_EQ(parse_duration("0d").value(), seconds(0));
  EXPECT_EQ(parse_duration("36500d").value(), seconds(36500ll * 86400));
}

// "Practically never" must not wrap around into "always": prune subtracts the duration
// from a nanosecond clock, so past a century is refused rather than taken.
TEST(Units, DurationsPastACenturyAreRefused) {
  for (const char* big : {"36501d", "999999d", "20000w", "5300w", "99999999999999s", "36500d1s"}) {
    auto r = parse_duration(big);
    ASSERT_FALSE(r.ok()) << big;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << big;
    EXPECT_NE(r.error().message.find("at most 36500d"), std::string::npos) << big;
  }
}

TEST(Units, PlainSeconds) {
  EXPECT_EQ(parse_seconds("90").value(), 90.0);
  EXPECT_EQ(parse_seconds("2.5").value(), 2.5);
  for (const char* bad : {"", "0x10", "1e3", "-1", " 5", "5 ", "inf", "nan", ".5", "5.", "1.2.3"}) {
    auto r = parse_seconds(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << bad;
  }
}

TEST(Units, BadDurationsAreUsageErrors) {
  for (const char* bad : {"", "7x", "-1d", "d", "1.5d", "7 d", "1d5", "0d5", "abc"}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << bad;
    EXPECT_NE(r.error().message.find("duration"), std::string::npos);
  }
}

TEST(Units, Sizes) {
  EXPECT_EQ(parse_size("700KiB").value(), 700u * 1024);
  EXPECT_EQ(parse_size("700K").value(), 700u * 1024);
  EXPECT_EQ(parse_size("700KB").value(), 700000u);
  EXPECT_EQ(parse_size("1G").value(), 1ull << 30);
  EXPECT_EQ(parse_size("1gib").value(), 1ull << 30);
  EXPECT_EQ(parse_size("2GB").value(), 2000000000u);
  EXPECT_EQ(parse_size("1.5M").value(), 3ull << 19);
  EXPECT_EQ(parse_size("123").value(), 123u);
  EXPECT_EQ(parse_size("123B").value(), 123u);
  EXPECT_EQ(parse_size("1T").value(), 1ull << 40);
}

TEST(Units, BadSizesAreUsageErrors) {
  for (const char* bad : {"", "lots", "-1G", "1X", "G", "1 G", "1GiBs"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << bad;
  }
}

TEST(Clock, Rfc3339RoundTrip) {
  auto t = parse_rfc3339("2026-01-02T03:04:05Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2026-01-02T03:04:05.000000000Z");
  auto n = parse_rfc3339("2026-01-02T03:04:05.123456789Z");
  ASSERT_TRUE(n);
  EXPECT_EQ(format_rfc3339(*n), "2026-01-02T03:04:05.123456789Z");
  auto off = parse_rfc3339("2026-01-02T05:04:05+02:00");
  ASSERT_TRUE(off);
  EXPECT_EQ(*off, *t);
  EXPECT_FALSE(parse_rfc3339("2026-01-02 03:04:05Z"));
  EXPECT_FALSE(parse_rfc3339("2026-01-02T03:04:05"));
  EXPECT_FALSE(parse_rfc3339("yesterday"));
  // Times a pusher may write that would wrap around 64-bit nanoseconds, or malformed ones
  // sscanf let through.
  for (const char* bad : {"2611-06-01T00:00:00Z", "1000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                          "1969-12-31T23:59:59Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z",
                          "+026-01-01T00:00:00Z", "2026-01-01T00:00:00+ab:cd",
                          "2026-01-01T00:00:00+99:00", "2026- 1-01T00:00:00Z"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  EXPECT_TRUE(parse_rfc3339("2200-12-31T23:59:59Z"));
  EXPECT_TRUE(parse_rfc3339("1970-01-01T00:00:00Z"));
}
