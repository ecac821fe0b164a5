#include <gtest/gtest.h>

#include <random>

#include "regcache/archive/compression.hpp"

using namespace regcache;

namespace {
std::string compress(Compression c, const std::string& in) {
  StringSink out;
  auto comp = make_compressor(c, 3, &out);
  EXPECT_TRUE(comp->write(in.data(), in.size()).ok());
  EXPECT_TRUE(comp->finish().ok());
  return out.str();
}

Result<std::string> decompress(Compression c, const std::string& in, uint64_t max) {
  StringSink out;
  auto d = make_decompressor(c, max, &out);
  for (size_t i = 0; i < in.size(); i += 1000)
    RC_CHECK(d->write(in.data() + i, std::min<size_t>(1000, in.size() - i)));
  RC_CHECK(d->finish());
  return out.str();
}

std::string sample_bytes() {
  std::string s;
  std::mt19937 rng(1);
  for (int i = 0; i < 300000; ++i) s.push_back(static_cast<char>('a' + rng() % 4));
  return s;
}
}  // namespace

class CompressionTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressionTest, RoundTrip) {
  auto s = sample_bytes();
  auto c = compress(GetParam(), s);
  EXPECT_LT(c.size(), s.size());
  auto back = decompress(GetParam(), c, s.size());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value(), s);
}

TEST_P(CompressionTest, TruncatedStreamFails) {
  auto c = compress(GetParam(), sample_bytes());
  EXPECT_FALSE(decompress(GetParam(), c.substr(0, c.size() / 2), 1 << 30).ok());
}

TEST_P(CompressionTest, OutputBeyondLimitIsRefused) {
  std::string zeros(10 << 20, '\0');
  auto c = compress(GetParam(), zeros);
  auto r = decompress(GetParam(), c, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::hostile);
}

INSTANTIATE_TEST_SUITE_P(Both, CompressionTest,
                         ::testing::Values(Compression::zstd, Compression::gzip),
                         [](const auto& p) {
                           return p.param == Compression::zstd ? "zstd" : "gzip";
                         });

TEST(Compression, MediaTypes) {
  EXPECT_EQ(compression_for_media_type(layer_media_type(Compression::zstd)).value(),
            Compression::zstd);
  EXPECT_EQ(compression_for_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip").value(),
            Compression::gzip);
  EXPECT_FALSE(compression_for_media_type("application/vnd.oci.image.layer.v1.tar").ok());
}
