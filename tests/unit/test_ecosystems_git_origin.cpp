// Where a save comes from (git ref and commit from CI variables) and ref trust patterns.
#include <gtest/gtest.h>

#include <map>

#include "fake_env.hpp"
#include "regcache/ecosystems/git_origin.hpp"

namespace regcache {
namespace {

using testing::env_of;

TEST(GitOrigin, GitHubActions) {
  auto o = git_origin_from_env(env_of(
      {{"GITHUB_ACTIONS", "true"}, {"GITHUB_REF", "refs/pull/3/merge"}, {"GITHUB_SHA", "abc"}}));
  EXPECT_EQ(o.ref, "refs/pull/3/merge");
  EXPECT_EQ(o.commit, "abc");
}

TEST(GitOrigin, GitLabTagBranchAndMergeRequest) {
  EXPECT_EQ(git_origin_from_env(env_of({{"GITLAB_CI", "true"}, {"CI_COMMIT_TAG", "v1"}})).ref,
            "refs/tags/v1");
  EXPECT_EQ(git_origin_from_env(env_of({{"GITLAB_CI", "true"},
                                        {"CI_MERGE_REQUEST_IID", "9"},
                                        {"CI_COMMIT_REF_NAME", "feature"}}))
                .ref,
            "refs/merge-requests/9/head");
  EXPECT_EQ(
      git_origin_from_env(env_of({{"GITLAB_CI", "true"}, {"CI_COMMIT_REF_NAME", "main"}})).ref,
      "refs/heads/main");
}

TEST(GitOrigin, BuildkitePullRequestAndOverride) {
  EXPECT_EQ(git_origin_from_env(env_of({{"BUILDKITE", "true"},
                                        {"BUILDKITE_PULL_REQUEST", "12"},
                                        {"BUILDKITE_BRANCH", "x"}}))
                .ref,
            "refs/pull/12/head");
  EXPECT_EQ(git_origin_from_env(env_of({{"BUILDKITE", "true"},
                                        {"BUILDKITE_PULL_REQUEST", "false"},
                                        {"BUILDKITE_BRANCH", "main"}}))
                .ref,
            "refs/heads/main");
  auto o = git_origin_from_env(env_of({{"GITHUB_ACTIONS", "true"},
                                       {"GITHUB_REF", "refs/heads/x"},
                                       {"REGCACHE_GIT_REF", "refs/heads/y"},
                                       {"REGCACHE_GIT_COMMIT", "def"}}));
  EXPECT_EQ(o.ref, "refs/heads/y");
  EXPECT_EQ(o.commit, "def");
  EXPECT_EQ(git_origin_from_env(env_of({})).ref, "");
}

TEST(GitOrigin, TrustPatterns) {
  EXPECT_TRUE(ref_trusted("refs/heads/main", {"refs/heads/main"}));
  EXPECT_TRUE(ref_trusted("refs/tags/v1.2", {"refs/heads/main", "refs/tags/*"}));
  EXPECT_FALSE(ref_trusted("refs/pull/3/merge", {"refs/heads/*", "refs/tags/*"}));
  EXPECT_FALSE(ref_trusted("refs/heads/release/1", {"refs/heads/*"}));
  EXPECT_TRUE(ref_trusted("refs/heads/release/1", {"refs/heads/**"}));
  EXPECT_FALSE(ref_trusted("", {"**"}));
}

}  // namespace
}  // namespace regcache
