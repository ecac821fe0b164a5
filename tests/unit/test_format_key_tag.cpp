#include <gtest/gtest.h>

#include "regcache/format/key_tag.hpp"

using namespace regcache;

TEST(KeyTag, ValidTagIsItsOwnTag) {
  EXPECT_EQ(tag_for_key("cargo-linux-abc123"), "cargo-linux-abc123");
  EXPECT_EQ(tag_for_key("v1.0_x"), "v1.0_x");
}

TEST(KeyTag, OtherKeysAreSanitizedWithHash) {
  std::string tag = tag_for_key("cargo/linux:x86");
  EXPECT_TRUE(is_valid_tag(tag));
  EXPECT_EQ(tag.rfind("cargo-linux-x86-", 0), 0u);
  EXPECT_EQ(tag.size(), std::string("cargo-linux-x86-").size() + 16);
  EXPECT_NE(tag_for_key("cargo/linux:x86"), tag_for_key("cargo:linux/x86"));
}

TEST(KeyTag, LongKeysStayValidTags) {
  std::string key(300, 'a');
  std::string tag = tag_for_key(key);
  EXPECT_TRUE(is_valid_tag(tag));
  EXPECT_LE(tag.size(), 128u);
  EXPECT_NE(tag_for_key(key), tag_for_key(key + "b"));
}

TEST(KeyTag, TagsAreLayoutRefNames) {
  // The OCI layout's ref.name grammar: alphanumeric runs joined by single separators.
  EXPECT_EQ(tag_for_key(".hidden").substr(0, 7), "hidden-");
  EXPECT_EQ(tag_for_key("-dash").substr(0, 5), "dash-");
  EXPECT_EQ(tag_for_key("npm / linux   v1").substr(0, 13), "npm-linux-v1-");
  EXPECT_EQ(tag_for_key("cl\xc3\xa9/\xc3\xa9t\xc3\xa9:x86_64 1").substr(0, 14), "cl-t-x86-64-1-");
  EXPECT_NE(tag_for_key("a__b"), "a__b");
  EXPECT_NE(tag_for_key("v1."), "v1.");
  EXPECT_EQ(tag_for_key("a--b"), "a--b");
  EXPECT_EQ(tag_for_key("v1.2_x-y"), "v1.2_x-y");
  for (std::string key : {".hidden", "a__b", "x/y", "v1.", "__"}) {
    EXPECT_TRUE(is_valid_tag(tag_for_key(key))) << key;
  }
}

TEST(KeyTag, PrefixOfKeyGivesPrefixOfTag) {
  for (std::string key :
       {"npm-linux-deadbeef", "npm/linux/deadbeef", "a b c d", "-x-y", "a--.b", "a__b"}) {
    for (size_t n = 1; n <= key.size(); ++n) {
      std::string prefix = key.substr(0, n);
      EXPECT_EQ(tag_for_key(key).rfind(tag_prefix_for(prefix), 0), 0u) << key << " / " << prefix;
    }
  }
}

TEST(KeyTag, ValidationNamesTheProblem) {
  EXPECT_TRUE(validate_key("ok-key").ok());
  auto comma = validate_key("a,b");
  ASSERT_FALSE(comma.ok());
  EXPECT_NE(comma.error().message.find("comma"), std::string::npos);
  auto long_key = validate_key(std::string(513, 'k'));
  ASSERT_FALSE(long_key.ok());
  EXPECT_NE(long_key.error().message.find("512"), std::string::npos);
  EXPECT_FALSE(validate_key("").ok());
  EXPECT_FALSE(validate_key("line\nbreak").ok());
  EXPECT_TRUE(validate_key(std::string(512, 'k')).ok());
}

// Found by fuzz/fuzz_key_tag.cpp: a key that is its own tag and holds '.' or '_' was missed
// by a restore-key prefix ending in one of them ("v1." gave the tag prefix "v1-").
TEST(KeyTag, PrefixOfATagShapedKeyGivesPrefixOfItsTag) {
  for (std::string key : {"v1.0.0", "deps_v1.2", "node_modules-linux", "a.b_c-d"}) {
    ASSERT_EQ(tag_for_key(key), key);
    for (size_t n = 1; n <= key.size(); ++n) {
      std::string prefix = key.substr(0, n);
      EXPECT_EQ(tag_for_key(key).rfind(tag_prefix_for(prefix), 0), 0u) << key << " / " << prefix;
    }
  }
  EXPECT_EQ(tag_prefix_for("deps_"), "deps");
  EXPECT_EQ(tag_prefix_for("cargo-linux-"), "cargo-linux-");
}

TEST(KeyTag, AKeyMustBeUtf8) {
  EXPECT_TRUE(validate_key("caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x93\xa6").ok());  // café-€-📦
  for (const char* bad : {"bad\xffkey", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    auto st = validate_key(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().kind, ErrorKind::usage);
    EXPECT_NE(st.error().message.find("UTF-8"), std::string::npos);
  }
}
