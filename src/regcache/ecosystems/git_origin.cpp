#include "regcache/ecosystems/git_origin.hpp"

namespace regcache {

namespace {

std::string value(const EnvFn& env, const char* name) {
  auto v = env(name);
  return v ? *v : std::string();
}

GitOrigin github(const EnvFn& env) {
  return {value(env, "GITHUB_REF"), value(env, "GITHUB_SHA")};
}

GitOrigin gitlab(const EnvFn& env) {
  GitOrigin o{"", value(env, "CI_COMMIT_SHA")};
  if (auto tag = value(env, "CI_COMMIT_TAG"); !tag.empty()) {
    o.ref = "refs/tags/" + tag;
  } else if (auto mr = value(env, "CI_MERGE_REQUEST_IID"); !mr.empty()) {
    o.ref = "refs/merge-requests/" + mr + "/head";
  } else if (auto branch = value(env, "CI_COMMIT_REF_NAME"); !branch.empty()) {
    o.ref = "refs/heads/" + branch;
  }
  return o;
}

GitOrigin buildkite(const EnvFn& env) {
  GitOrigin o{"", value(env, "BUILDKITE_COMMIT")};
  std::string pr = value(env, "BUILDKITE_PULL_REQUEST");
  if (auto tag = value(env, "BUILDKITE_TAG"); !tag.empty()) {
    o.ref = "refs/tags/" + tag;
  } else if (!pr.empty() && pr != "false") {
    o.ref = "refs/pull/" + pr + "/head";
  } else if (auto branch = value(env, "BUILDKITE_BRANCH"); !branch.empty()) {
    o.ref = "refs/heads/" + branch;
  }
  return o;
}

}  // namespace

GitOrigin git_origin_from_env(const EnvFn& env) {
  GitOrigin o;
  if (value(env, "GITHUB_ACTIONS") == "true") {
    o = github(env);
  } else if (value(env, "GITLAB_CI") == "true") {
    o = gitlab(env);
  } else if (value(env, "BUILDKITE") == "true") {
    o = buildkite(env);
  }
  if (auto r = value(env, "REGCACHE_GIT_REF"); !r.empty()) o.ref = r;
  if (auto c = value(env, "REGCACHE_GIT_COMMIT"); !c.empty()) o.commit = c;
  return o;
}

}  // namespace regcache
