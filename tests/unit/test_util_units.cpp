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
}

TEST(Units, BadDurationsAreUsageErrors) {
  for (const char* bad : {"", "7x", "-1d", "d", "1.5d", "7 d", "1d5", "abc"}) {
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
}
