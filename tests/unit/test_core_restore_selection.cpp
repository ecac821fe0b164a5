#include "regcache/core/restore_selection.hpp"

#include <gtest/gtest.h>

namespace regcache {
namespace {

const std::vector<std::string> kRoots = {"abs/etc/x", "home/.bashrc", "home/.cargo/registry",
                                         "ws/out", "ws/target"};

std::vector<std::string> prefixes(const Selection& s) {
  std::vector<std::string> out;
  for (const auto& p : s.picks) out.push_back(p.prefix);
  return out;
}

TEST(RestoreSelection, WithoutPathsOnlyTheWorkspaceRoots) {
  Selection s = select_roots(kRoots, {}, AllRoots::no);
  EXPECT_EQ(prefixes(s), (std::vector<std::string>{"ws/out", "ws/target"}));
  EXPECT_EQ(s.skipped,
            (std::vector<std::string>{"abs/etc/x", "home/.bashrc", "home/.cargo/registry"}));
  EXPECT_TRUE(s.unheld.empty());
}

TEST(RestoreSelection, AllRootsTakesEveryRoot) {
  Selection s = select_roots(kRoots, {}, AllRoots::yes);
  EXPECT_EQ(prefixes(s), kRoots);
  EXPECT_TRUE(s.skipped.empty());
}

TEST(RestoreSelection, NamedPathsConfineTheRestore) {
  Selection s = select_roots(kRoots, {{"ws/out"}, {"home/.cargo/registry"}}, AllRoots::yes);
  EXPECT_EQ(prefixes(s), (std::vector<std::string>{"home/.cargo/registry", "ws/out"}));
  EXPECT_EQ(s.skipped, (std::vector<std::string>{"abs/etc/x", "home/.bashrc", "ws/target"}));
}

TEST(RestoreSelection, APathInsideARootIsExtractedAlone) {
  Selection s = select_roots(kRoots, {{"ws/target/debug/deps"}}, AllRoots::no);
  ASSERT_EQ(s.picks.size(), 1u);
  EXPECT_EQ(s.picks[0].prefix, "ws/target/debug/deps");
  EXPECT_EQ(s.picks[0].scope, "ws/target");
}

TEST(RestoreSelection, APathAboveRootsTakesThemWhole) {
  Selection s = select_roots(kRoots, {{"home/.cargo"}, {"ws"}}, AllRoots::no);
  EXPECT_EQ(prefixes(s), (std::vector<std::string>{"home/.cargo/registry", "ws/out", "ws/target"}));
}

TEST(RestoreSelection, AWholeRootWinsOverAPathInsideIt) {
  Selection s = select_roots(kRoots, {{"ws/target/debug"}, {"ws/target"}}, AllRoots::no);
  ASSERT_EQ(s.picks.size(), 1u);
  EXPECT_EQ(s.picks[0].prefix, "ws/target");
  EXPECT_EQ(s.picks[0].scope, "ws/target");
}

TEST(RestoreSelection, UnheldPathsAreReportedByOrigin) {
  Selection s = select_roots(
      kRoots, {{"ws/elsewhere"}, {"home/.cargo/git", PathOrigin::preset}, {"ws/outer"}},
      AllRoots::no);
  EXPECT_TRUE(s.picks.empty());
  EXPECT_EQ(s.unheld, (std::vector<std::string>{"ws/elsewhere", "ws/outer"}));  // not ws/out
  EXPECT_EQ(s.optional, (std::vector<std::string>{"home/.cargo/git"}));
}

TEST(RestoreSelection, GlobsNameWholeRoots) {
  Selection s = select_roots(kRoots, {{"ws/*"}, {"home/.c*/*"}}, AllRoots::no);
  EXPECT_EQ(prefixes(s), (std::vector<std::string>{"home/.cargo/registry", "ws/out", "ws/target"}));
}

}  // namespace
}  // namespace regcache
