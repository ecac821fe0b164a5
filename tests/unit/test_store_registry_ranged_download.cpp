// download_in_ranges: parallel ranges written in order, the first failure stopping the rest.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "regcache/store/registry/ranged_download.hpp"

using namespace regcache;

namespace {

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}

}  // namespace

TEST(RangedDownload, WritesEveryRangeInOrder) {
  const std::string blob = pattern(100003);
  for (size_t window : {1u, 3u, 8u}) {
    StringSink out;
    std::atomic<int> calls{0};
    auto st = download_in_ranges(
        {1000, blob.size(), 4096, window},
        [&](uint64_t off, uint64_t len, std::string* into) -> Status {
          ++calls;
          *into = blob.substr(off, len);
          return {};
        },
        &out);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_EQ(out.str(), blob.substr(1000)) << "window " << window;
    EXPECT_EQ(calls, static_cast<int>((blob.size() - 1000 + 4095) / 4096));
  }
}

TEST(RangedDownload, AFailedRangeStopsTheRestAndNothingAfterItIsWritten) {
  const std::string blob = pattern(64 * 1024);
  StringSink out;
  auto st = download_in_ranges(
      {0, blob.size(), 1024, 4},
      [&](uint64_t off, uint64_t len, std::string* into) -> Status {
        if (off == 10 * 1024) return make_error(ErrorKind::network, "cut");
        *into = blob.substr(off, len);
        return {};
      },
      &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::network);
  EXPECT_EQ(out.str(), blob.substr(0, 10 * 1024)) << "exactly the ranges before the failed one";
}

TEST(RangedDownload, AShortRangeIsAnIntegrityError) {
  const std::string blob = pattern(10000);
  StringSink out;
  auto st = download_in_ranges(
      {0, blob.size(), 1000, 2},
      [&](uint64_t off, uint64_t len, std::string* into) -> Status {
        *into = blob.substr(off, off == 3000 ? len - 1 : len);
        return {};
      },
      &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::integrity);
  EXPECT_EQ(out.str().size(), 3000u);
}

TEST(RangedDownload, ASinkErrorStopsTheDownload) {
  const std::string blob = pattern(20000);
  StringSink out(5000);  // refuses more than 5000 bytes
  std::atomic<int> calls{0};
  auto st = download_in_ranges(
      {0, blob.size(), 1000, 2},
      [&](uint64_t off, uint64_t len, std::string* into) -> Status {
        ++calls;
        *into = blob.substr(off, len);
        return {};
      },
      &out);
  ASSERT_FALSE(st.ok());
  EXPECT_LT(calls, 20) << "no range fetched far past the failure (window 2)";
  EXPECT_LE(calls, 5 + 1 + 2);
}
