#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <map>

#include "regcache/store/registry/credentials.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::TempDir;
using regcache::testing::write_file;

namespace {

EnvFn fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Installs docker-credential-<name> printing `reply` for `server`, exiting 1 otherwise.
void install_helper(const TempDir& d, const std::string& name, const std::string& server,
                    const std::string& reply) {
  std::string path = d / ("bin/docker-credential-" + name);
  write_file(path, "#!/bin/sh\nread s\n[ \"$1\" = get ] || exit 2\n[ \"$s\" = '" + server +
                       "' ] || { echo 'credentials not found' ; exit 1; }\necho '" + reply + "'\n");
  ::chmod(path.c_str(), 0755);
}

// Puts the test's bin/ first on PATH for the duration of a test.
struct PathGuard {
  std::string old;
  explicit PathGuard(const TempDir& d) {
    old = std::getenv("PATH") ? std::getenv("PATH") : "";
    ::setenv("PATH", (d / "bin:" + old).c_str(), 1);
  }
  ~PathGuard() { ::setenv("PATH", old.c_str(), 1); }
};

}  // namespace

TEST(Credentials, EnvironmentWins) {
  TempDir d;
  write_file(d / "docker/config.json", R"({"auths":{"r.example":{"auth":"dTpw"}}})");
  auto c = find_credentials("r.example", fake_env({{"REGCACHE_USERNAME", "me"},
                                                   {"REGCACHE_PASSWORD", "s3cret"},
                                                   {"DOCKER_CONFIG", d / "docker"}}));
  ASSERT_TRUE(c.ok() && c.value());
  EXPECT_EQ(c.value()->username, "me");
  EXPECT_EQ(c.value()->secret, "s3cret");
}

// The variables are the main store's: another registry (an image to import, a base store)
// gets only what an auth file or helper names for its own host.
TEST(Credentials, WithheldVariablesGoNowhere) {
  TempDir d;
  write_file(d / "docker/config.json", R"({"auths":{"r.example":{"auth":"dTpw"}}})");
  auto env = fake_env({{"REGCACHE_USERNAME", "me"},
                       {"REGCACHE_PASSWORD", "s3cret"},
                       {"DOCKER_CONFIG", d / "docker"}});
  auto c = find_credentials("r.example", env, {}, EnvCredentials::withheld);
  ASSERT_TRUE(c.ok() && c.value());
  EXPECT_EQ(c.value()->username, "u");  // the auth file's entry for r.example
  EXPECT_EQ(c.value()->secret, "p");
  auto none = find_credentials("foreign.example", env, {}, EnvCredentials::withheld);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value());
}

TEST(Credentials, DockerConfigAuths) {
  TempDir d;
  // base64("user:pa:ss") — a password may hold a colon
  write_file(d / "docker/config.json",
             R"({"auths":{"https://r.example":{"auth":"dXNlcjpwYTpzcw=="}}})");
  auto c = find_credentials("r.example", fake_env({{"DOCKER_CONFIG", d / "docker"}}));
  ASSERT_TRUE(c.ok() && c.value());
  EXPECT_EQ(c.value()->username, "user");
  EXPECT_EQ(c.value()->secret, "pa:ss");
  auto none = find_credentials("other.example", fake_env({{"DOCKER_CONFIG", d / "docker"}}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value());
}

TEST(Credentials, CredHelperBeatsCredsStoreBeatsAuths) {
  TempDir d;
  install_helper(d, "pass1", "r.example",
                 R"({"ServerURL":"r.example","Username":"h","Secret":"from-helper"})");
  install_helper(d, "store1", "r.example",
                 R"({"ServerURL":"r.example","Username":"s","Secret":"from-store"})");
  PathGuard path(d);
  write_file(
      d / "a/config.json",
      R"({"credHelpers":{"r.example":"pass1"},"credsStore":"store1","auths":{"r.example":{"auth":"dTpw"}}})");
  auto c = find_credentials("r.example", fake_env({{"DOCKER_CONFIG", d / "a"}}));
  ASSERT_TRUE(c.ok() && c.value()) << (c.ok() ? "" : c.error().message);
  EXPECT_EQ(c.value()->secret, "from-helper");
  write_file(d / "b/config.json", R"({"credsStore":"store1","auths":{"r.example":{}}})");
  auto s = find_credentials("r.example", fake_env({{"DOCKER_CONFIG", d / "b"}}));
  ASSERT_TRUE(s.ok() && s.value());
  EXPECT_EQ(s.value()->secret, "from-store");
}

TEST(Credentials, HelperIdentityToken) {
  TempDir d;
  install_helper(d, "idt", "r.example",
                 R"({"ServerURL":"r.example","Username":"<token>","Secret":"refresh"})");
  PathGuard path(d);
  write_file(d / "c/config.json", R"({"credHelpers":{"r.example":"idt"}})");
  auto c = find_credentials("r.example", fake_env({{"DOCKER_CONFIG", d / "c"}}));
  ASSERT_TRUE(c.ok() && c.value());
  EXPECT_EQ(c.value()->identity_token, "refresh");
  EXPECT_TRUE(c.value()->secret.empty());
}

// A config.json copied from another machine names a helper this one lacks: no credentials
// (a warning names it), as a public repository needs none; a 401 says the rest.
TEST(Credentials, AMissingHelperGivesNoCredentials) {
  TempDir d;
  write_file(d / "c/config.json", R"({"credHelpers":{"r.example":"notinstalled"}})");
  auto c = find_credentials("r.example", fake_env({{"DOCKER_CONFIG", d / "c"}}));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c.value());
}

TEST(Credentials, PodmanAuthFileBeforeDocker) {
  TempDir d;
  write_file(d / "run/containers/auth.json", R"({"auths":{"r.example":{"auth":"cG9kbWFuOnB3"}}})");
  write_file(d / "docker/config.json", R"({"auths":{"r.example":{"auth":"ZG9ja2VyOnB3"}}})");
  auto c = find_credentials(
      "r.example", fake_env({{"XDG_RUNTIME_DIR", d / "run"}, {"DOCKER_CONFIG", d / "docker"}}));
  ASSERT_TRUE(c.ok() && c.value());
  EXPECT_EQ(c.value()->username, "podman");
}

TEST(Credentials, GithubTokenForGhcrOnly) {
  auto env =
      fake_env({{"GITHUB_TOKEN", "ghs_x"}, {"GITHUB_ACTOR", "octocat"}, {"HOME", "/nonexistent"}});
  auto c = find_credentials("ghcr.io", env);
  ASSERT_TRUE(c.ok() && c.value());
  EXPECT_EQ(c.value()->username, "octocat");
  EXPECT_EQ(c.value()->secret, "ghs_x");
  auto other = find_credentials("quay.io", env);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other.value());
}

TEST(Credentials, MalformedFileIsAnErrorNamingIt) {
  TempDir d;
  write_file(d / "docker/config.json", "{not json");
  auto c = find_credentials("r.example", fake_env({{"DOCKER_CONFIG", d / "docker"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("config.json"), std::string::npos);
}
