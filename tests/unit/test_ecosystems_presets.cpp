#include <gtest/gtest.h>

#include <map>

#include "regcache/ecosystems/presets.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::TempDir;
using regcache::testing::write_file;

namespace {

PresetEnv env_of(const std::string& ws, std::map<std::string, std::string> vars = {}) {
  return PresetEnv{[vars](const std::string& n) -> std::optional<std::string> {
                     auto it = vars.find(n);
                     return it == vars.end() ? std::nullopt
                                             : std::optional<std::string>(it->second);
                   },
                   ws, "/home/u"};
}

}  // namespace

TEST(Presets, AllKnownAndUnknownNamed) {
  auto names = preset_names();
  for (const char* n : {"rust", "node", "go", "python", "ccache", "gradle", "maven"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  auto bad = make_preset("cobol", env_of("/w"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("cobol"), std::string::npos);
  EXPECT_NE(bad.error().message.find("rust"), std::string::npos);
}

// With no home directory, a default under it is not a path at / (/.cache/ccache): the
// preset is a usage error naming the path, unless the tool's own variable names one.
TEST(Presets, ADefaultUnderAMissingHomeIsAnError) {
  PresetEnv none = env_of("/w");
  none.home.clear();
  auto p = make_preset("ccache", none);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().kind, ErrorKind::usage);
  EXPECT_NE(p.error().message.find("~/.cache/ccache"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("no home directory"), std::string::npos);
  PresetEnv named = env_of("/w", {{"CCACHE_DIR", "/var/ccache"}});
  named.home.clear();
  auto q = make_preset("ccache", named);
  ASSERT_TRUE(q.ok()) << q.error().message;
  for (const auto& path : q->paths) EXPECT_EQ(path.find('\x01'), std::string::npos) << path;
}

TEST(Presets, RustHonoursCargoVariables) {
  auto p =
      make_preset("rust",
                  env_of("/w", {{"CARGO_HOME", "/opt/cargo"}, {"CARGO_TARGET_DIR", "/tmp/tgt"}}))
          .value();
  EXPECT_EQ(p.paths,
            (std::vector<std::string>{"/opt/cargo/registry/index", "/opt/cargo/registry/cache",
                                      "/opt/cargo/git/db", "/tmp/tgt"}));
  auto d = make_preset("rust", env_of("/w")).value();
  EXPECT_EQ(d.paths.front(), "/home/u/.cargo/registry/index");
  EXPECT_EQ(d.paths.back(), "/w/target");
  EXPECT_NE(d.key.find("hashCommand \"rustc -vV\""), std::string::npos);
  EXPECT_NE(d.key.find("Cargo.lock"), std::string::npos);
  ASSERT_EQ(d.restore_keys.size(), 2u);
  EXPECT_EQ(d.key.rfind(d.restore_keys[0], 0), 0u);  // each restore key is a prefix of the key
  EXPECT_EQ(d.restore_keys[0].rfind(d.restore_keys[1], 0), 0u);
}

TEST(Presets, NodeChoosesTheManagerByLockfile) {
  TempDir npm, pnpm, yarn;
  write_file(npm / "package-lock.json", "{}");
  write_file(pnpm / "pnpm-lock.yaml", "");
  write_file(yarn / "yarn.lock", "");
  auto a = make_preset("node", env_of(npm.path(), {{"npm_config_cache", "/c/npm"}})).value();
  EXPECT_EQ(a.paths, std::vector<std::string>{"/c/npm"});
  EXPECT_NE(a.key.find("package-lock.json"), std::string::npos);
  auto b = make_preset("node", env_of(pnpm.path())).value();
  EXPECT_EQ(b.paths, std::vector<std::string>{"/home/u/.local/share/pnpm/store"});
  EXPECT_NE(b.key.find("pnpm-lock.yaml"), std::string::npos);
  auto c = make_preset("node", env_of(yarn.path())).value();
  EXPECT_EQ(c.paths, std::vector<std::string>{"/home/u/.cache/yarn"});
}

TEST(Presets, GoPythonCcacheGradleMavenPaths) {
  auto go = make_preset("go", env_of("/w", {{"GOMODCACHE", "/m"}, {"GOCACHE", "/b"}})).value();
  EXPECT_EQ(go.paths, (std::vector<std::string>{"/m", "/b"}));
  auto go_default = make_preset("go", env_of("/w")).value();
  EXPECT_EQ(go_default.paths,
            (std::vector<std::string>{"/home/u/go/pkg/mod", "/home/u/.cache/go-build"}));
  auto py = make_preset("python", env_of("/w", {{"PIP_CACHE_DIR", "/pip"}})).value();
  EXPECT_EQ(py.paths.front(), "/pip");
  auto cc = make_preset("ccache", env_of("/w", {{"CCACHE_DIR", "/cc"}})).value();
  EXPECT_EQ(cc.paths, std::vector<std::string>{"/cc"});
  EXPECT_NE(cc.key.find("{{ now }}"), std::string::npos);
  auto gr = make_preset("gradle", env_of("/w", {{"GRADLE_USER_HOME", "/g"}})).value();
  EXPECT_EQ(gr.paths, (std::vector<std::string>{"/g/caches", "/g/wrapper"}));
  auto mvn = make_preset("maven", env_of("/w")).value();
  EXPECT_EQ(mvn.paths, std::vector<std::string>{"/home/u/.m2/repository"});
}
