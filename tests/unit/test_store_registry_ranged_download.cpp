// download_in_ranges: parallel ranges written in order, the first failure stopping the rest.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
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

// The window's ranges are all in flight at once: each of the first ones waits until as many
// fetches as the window holds have started (a minute at most, only a bound for a failure),
// so a download that started fewer workers than its window shows as a smaller maximum.
TEST(RangedDownload, RunsItsWholeWindowAtOnce) {
  const std::string blob = pattern(40 * 1024);
  for (size_t window : {2u, 5u, 8u}) {
    std::mutex mu;
    std::condition_variable cv;
    size_t started = 0, in_flight = 0, most = 0;
    StringSink out;
    auto st = download_in_ranges(
        {0, blob.size(), 1024, window},
        [&](uint64_t off, uint64_t len, std::string* into) -> Status {
          std::unique_lock lock(mu);
          ++started;
          most = std::max(most, ++in_flight);
          cv.notify_all();
          cv.wait_for(lock, std::chrono::minutes(1), [&] { return started >= window; });
          --in_flight;
          *into = blob.substr(off, len);
          return {};
        },
        &out);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_EQ(out.str(), blob);
    EXPECT_EQ(most, window);
  }
}
