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

// An exclusion leaves out a path that a pattern or a name brought in, not only paths below
// a root: 'src/*.txt' '!src/a.txt' saves b.txt alone, as actions/cache does.
TEST(CachePaths, ExclusionsApplyToTheRootsThemselves) {
  regcache::testing::TempDir d;
  regcache::testing::write_file(d / "ws/src/a.txt", "a");
  regcache::testing::write_file(d / "ws/src/b.txt", "b");
  regcache::testing::write_file(d / "ws/src/c.log", "c");
  Anchors a{d / "ws", d / "home"};
  auto archives = [](const PathSpec& s) {
    std::vector<std::string> out;
    for (const auto& r : s.roots) out.push_back(r.archive);
    return out;
  };
  auto globbed =
      resolve_paths({d / "ws/src/*.txt", "!" + (d / "ws/src/a.txt")}, {}, a, MissingPaths::error);
  ASSERT_TRUE(globbed.ok());
  EXPECT_EQ(archives(*globbed), std::vector<std::string>{"ws/src/b.txt"});
  auto by_name = resolve_paths({d / "ws/src/*"}, {"*.log"}, a, MissingPaths::error);
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(archives(*by_name), (std::vector<std::string>{"ws/src/a.txt", "ws/src/b.txt"}));
  auto named = resolve_paths({d / "ws/src/a.txt", d / "ws/src/b.txt"}, {d / "ws/src/a.txt"}, a,
                             MissingPaths::error);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(archives(*named), std::vector<std::string>{"ws/src/b.txt"});
}

// The entry's JSON names its roots as text: a root whose name is not UTF-8 is a usage
// error naming it (escaped), not a JSON library's exception.
TEST(CachePaths, ARootNameMustBeUtf8) {
  regcache::testing::TempDir d;
  regcache::testing::write_file(d / "ws/r\xe9/f", "x");
  Anchors a{d / "ws", d / "home"};
  auto r = resolve_paths({d / "ws/r\xe9"}, {}, a, MissingPaths::error);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::usage);
  EXPECT_NE(r.error().message.find("r\\xe9"), std::string::npos) << r.error().message;
}
