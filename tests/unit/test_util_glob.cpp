#include <gtest/gtest.h>

#include "regcache/core/cache_paths.hpp"
#include "regcache/util/glob.hpp"
#include "regcache/util/glob_expand.hpp"
#include "test_helpers.hpp"

using namespace regcache;

TEST(Glob, StarStaysInComponent) {
  EXPECT_TRUE(glob_match("*.o", "main.o"));
  EXPECT_FALSE(glob_match("*.o", "dir/main.o"));
  EXPECT_TRUE(glob_match("src/*/x", "src/a/x"));
  EXPECT_FALSE(glob_match("src/*/x", "src/a/b/x"));
}

TEST(Glob, DoubleStarCrossesComponents) {
  EXPECT_TRUE(glob_match("**/Cargo.lock", "Cargo.lock"));
  EXPECT_TRUE(glob_match("**/Cargo.lock", "a/b/Cargo.lock"));
  EXPECT_TRUE(glob_match("target/**", "target/debug/x"));
  EXPECT_FALSE(glob_match("**/Cargo.lock", "a/Cargo.lock.bak"));
}

TEST(Glob, ClassesAndQuestionMark) {
  EXPECT_TRUE(glob_match("file[0-9].txt", "file7.txt"));
  EXPECT_FALSE(glob_match("file[!0-9].txt", "file7.txt"));
  EXPECT_TRUE(glob_match("?.c", "a.c"));
  EXPECT_FALSE(glob_match("?.c", "/.c"));
}

TEST(Glob, ExpandsOnDisk) {
  regcache::testing::TempDir d;
  regcache::testing::write_file(d / "a/x/Cargo.lock", "1");
  regcache::testing::write_file(d / "b/Cargo.lock", "2");
  regcache::testing::write_file(d / "b/other", "3");
  auto m = expand_glob(d.path() + "/**/Cargo.lock");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], d / "a/x/Cargo.lock");
  EXPECT_EQ(expand_glob(d.path() + "/*/other").size(), 1u);
  EXPECT_TRUE(expand_glob(d.path() + "/nothing*").empty());
}

TEST(CachePaths, MissingPathIsAnErrorNamingIt) {
  Anchors a{"/w", "/h"};
  auto r = resolve_paths({"/definitely/not/here"}, {}, a, MissingPaths::error);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/definitely/not/here"), std::string::npos);
}

TEST(CachePaths, NestedRootsCollapseAndExclusionsApply) {
  regcache::testing::TempDir d;
  regcache::testing::write_file(d / "ws/target/a.o", "1");
  regcache::testing::write_file(d / "ws/target/keep.rlib", "2");
  Anchors a{d / "ws", d / "home"};
  auto spec =
      resolve_paths({d / "ws/target", d / "ws/target/a.o", "!*.o"}, {}, a, MissingPaths::error);
  ASSERT_TRUE(spec.ok());
  ASSERT_EQ(spec->roots.size(), 1u);
  EXPECT_EQ(spec->roots[0].archive, "ws/target");
  auto filter = exclude_filter(*spec, spec->roots[0]);
  EXPECT_TRUE(filter("a.o"));
  EXPECT_FALSE(filter("keep.rlib"));
}
