#include <gtest/gtest.h>

#include "regcache/format/anchor.hpp"

using namespace regcache;

TEST(Anchor, WorkspaceHomeAndAbsolute) {
  Anchors a{"/home/runner/work/proj", "/home/runner"};
  EXPECT_EQ(anchor_path(a, "/home/runner/work/proj/target"), "ws/target");
  EXPECT_EQ(anchor_path(a, "/home/runner/work/proj"), "ws");
  EXPECT_EQ(anchor_path(a, "/home/runner/.cargo/registry"), "home/.cargo/registry");
  EXPECT_EQ(anchor_path(a, "/opt/cache"), "abs/opt/cache");
  EXPECT_EQ(anchor_path(a, "/home/runner/work/project2"), "home/work/project2");
}

// A checkout reached through a symlink: relative paths come out of getcwd resolved, and
// still anchor to the workspace (they were stored as abs/..., which no other runner has).
TEST(Anchor, EitherSpellingOfALinkedWorkspace) {
  Anchors a{"/ci/link", "/home/u", "/data/real", "/srv/home/u"};
  EXPECT_EQ(anchor_path(a, "/ci/link/target"), "ws/target");
  EXPECT_EQ(anchor_path(a, "/data/real/target"), "ws/target");
  EXPECT_EQ(anchor_path(a, "/data/real"), "ws");
  EXPECT_EQ(anchor_path(a, "/srv/home/u/.npm"), "home/.npm");
  EXPECT_EQ(anchor_path(a, "/data/realm/x"), "abs/data/realm/x");
  EXPECT_EQ(resolve_anchor(a, "ws/target").value(), "/ci/link/target");
}

TEST(Anchor, ResolvesOntoAnotherRunner) {
  Anchors b{"/builds/group/proj", "/root"};
  EXPECT_EQ(resolve_anchor(b, "ws/target").value(), "/builds/group/proj/target");
  EXPECT_EQ(resolve_anchor(b, "home/.npm").value(), "/root/.npm");
  EXPECT_EQ(resolve_anchor(b, "abs/opt/cache").value(), "/opt/cache");
}

TEST(Anchor, RejectsUnsafeOrUnknownRoots) {
  Anchors a{"/w", "/h"};
  EXPECT_FALSE(resolve_anchor(a, "ws/../../etc").ok());
  EXPECT_FALSE(resolve_anchor(a, "/etc").ok());
  EXPECT_FALSE(resolve_anchor(a, "other/x").ok());
}

TEST(Anchor, AbsolutePathNormalizes) {
  EXPECT_EQ(absolute_path("~/x/../y/./z/", "/home/u").value(), "/home/u/y/z");
  EXPECT_EQ(absolute_path("/a//b/../c", "/h").value(), "/a/c");
  EXPECT_FALSE(absolute_path("", "/h").ok());
}
