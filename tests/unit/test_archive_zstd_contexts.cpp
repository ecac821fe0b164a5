#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "regcache/archive/compression.hpp"
#include "regcache/archive/zstd_contexts.hpp"

namespace regcache {
namespace {

std::string zstd_sample(unsigned seed, size_t n) {
  std::string s;
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + rng() % 8));
  return s;
}

std::string zstd_of(const std::string& in, int level) {
  StringSink out;
  auto c = make_compressor(Compression::zstd, level, &out);
  EXPECT_TRUE(c->write(in.data(), in.size()).ok());
  EXPECT_TRUE(c->finish().ok());
  return out.str();
}

Result<std::string> unzstd(const std::string& in) {
  StringSink out;
  auto d = make_decompressor(Compression::zstd, 1 << 30, &out);
  RC_CHECK(d->write(in.data(), in.size()));
  RC_CHECK(d->finish());
  return out.str();
}

TEST(ZstdContexts, ADroppedContextIsTheNextOneTaken) {
  ZstdDecoder* first = take_decoder().get();
  EXPECT_EQ(take_decoder().get(), first);
  ZstdEncoder* encoder = take_encoder(3).get();
  EXPECT_EQ(take_encoder(19).get(), encoder);
}

// A kept context starts each stream afresh: nothing of a failed or abandoned stream, nor
// of another level, reaches the next one.
TEST(ZstdContexts, AReusedContextCarriesNothingOver) {
  const std::string a = zstd_sample(1, 300000), b = zstd_sample(2, 200000);
  {
    StringSink out;
    auto c = make_compressor(Compression::zstd, 19, &out);
    ASSERT_TRUE(c->write(a.data(), a.size()).ok());  // abandoned: no finish
  }
  std::string packed = zstd_of(b, 1);
  auto back = unzstd(packed);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, b);

  std::string garbage = packed.substr(0, 40) + std::string(4000, '\x55');
  EXPECT_FALSE(unzstd(garbage).ok());
  std::string cut = zstd_of(a, 3);
  EXPECT_FALSE(unzstd(cut.substr(0, cut.size() / 2)).ok());  // truncated: left mid-frame
  back = unzstd(zstd_of(a, 3));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, a);
}

TEST(ZstdContexts, ThreadsShareThePoolSafely) {
  std::vector<std::thread> threads;
  std::vector<int> good(8, 0);
  for (unsigned t = 0; t < good.size(); ++t) {
    threads.emplace_back([t, &good] {
      for (int round = 0; round < 10; ++round) {
        std::string in = zstd_sample(t * 100 + round, 50000 + t * 1000);
        auto back = unzstd(zstd_of(in, 1 + round % 5));
        if (back.ok() && *back == in) ++good[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int g : good) EXPECT_EQ(g, 10);
}

}  // namespace
}  // namespace regcache
