// SHA-256 digests and the shapes of their text: a digest, and a blob's name in a layout.
#include <gtest/gtest.h>

#include <string>

#include "regcache/util/sha256.hpp"

namespace regcache {
namespace {

const std::string kEmptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Sha256, DigestOfKnownInput) {
  EXPECT_EQ(sha256_hex(""), kEmptyHex);
  EXPECT_EQ(sha256_digest(""), "sha256:" + kEmptyHex);
}

TEST(Sha256, HexNamesAreSixtyFourLowercaseDigits) {
  EXPECT_TRUE(is_sha256_hex(kEmptyHex));
  EXPECT_FALSE(is_sha256_hex(kEmptyHex.substr(1)));
  EXPECT_FALSE(is_sha256_hex(kEmptyHex + "0"));
  std::string upper = kEmptyHex;
  upper[0] = 'E';
  EXPECT_FALSE(is_sha256_hex(upper));
  std::string other = kEmptyHex;
  other[5] = 'g';
  EXPECT_FALSE(is_sha256_hex(other));
  EXPECT_FALSE(is_sha256_hex(""));
}

TEST(Sha256, DigestsNameTheAlgorithm) {
  EXPECT_TRUE(is_valid_digest("sha256:" + kEmptyHex));
  EXPECT_FALSE(is_valid_digest(kEmptyHex));
  EXPECT_FALSE(is_valid_digest("sha512:" + kEmptyHex));
  EXPECT_FALSE(is_valid_digest("sha256:" + kEmptyHex.substr(1) + "G"));
  EXPECT_FALSE(is_valid_digest("sha256:" + kEmptyHex + "0"));
}

}  // namespace
}  // namespace regcache
