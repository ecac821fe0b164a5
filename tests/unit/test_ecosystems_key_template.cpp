#include <gtest/gtest.h>

#include <map>

#include "regcache/ecosystems/hash_files.hpp"
#include "regcache/ecosystems/key_template.hpp"
#include "regcache/util/sha256.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::TempDir;
using regcache::testing::write_file;

namespace {

TemplateContext context(const std::string& ws, std::map<std::string, std::string> vars = {}) {
  TemplateContext c;
  c.workspace = ws;
  c.env = [vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  c.run = [](const std::string& cmd) -> Result<std::string> { return "output of " + cmd; };
  return c;
}

std::string raw(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace

TEST(KeyTemplate, PlainTextAndSimpleFunctions) {
  TempDir d;
  auto c = context(d.path(), {{"RUNNER", "ubuntu"}});
  EXPECT_EQ(render_key_template("plain-key", c).value(), "plain-key");
  EXPECT_EQ(render_key_template("k-{{ os }}-{{arch}}", c).value(),
            "k-" + key_os() + "-" + key_arch());
  EXPECT_EQ(render_key_template("{{ env \"RUNNER\" }}/{{ env \"UNSET\" }}", c).value(), "ubuntu/");
  EXPECT_EQ(render_key_template("{{ hashCommand \"rustc -vV\" }}", c).value(),
            sha256_hex("output of rustc -vV"));
}

TEST(KeyTemplate, ErrorsQuoteTheBlock) {
  TempDir d;
  auto c = context(d.path());
  for (const char* bad : {"{{ nope }}", "{{ os \"x\" }}", "{{ env }}", "{{ env unquoted }}",
                          "{{ env \"open }}", "k-{{ os", "{{ }}"}) {
    auto r = render_key_template(bad, c);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << bad;
    EXPECT_NE(r.error().message.find("template"), std::string::npos) << bad;
  }
}

TEST(HashFiles, CombinesSortedFileDigestsLikeGithub) {
  TempDir d;
  write_file(d / "b/Cargo.lock", "second");
  write_file(d / "a/Cargo.lock", "first");
  write_file(d / "a/other.txt", "not matched");
  auto h = hash_files({"**/Cargo.lock"}, d.path(), EmptyMatch::error);
  ASSERT_TRUE(h.ok()) << h.error().message;
  // sha256(sha256(a/Cargo.lock) || sha256(b/Cargo.lock)), files sorted by path
  EXPECT_EQ(h.value(), sha256_hex(raw(sha256_hex("first")) + raw(sha256_hex("second"))));
  auto again = render_key_template("{{ hashFiles \"**/Cargo.lock\" }}", context(d.path()));
  EXPECT_EQ(again.value(), h.value());
}

TEST(HashFiles, ExclusionsAndPruning) {
  TempDir d;
  write_file(d / "Cargo.lock", "root");
  write_file(d / "target/pkg/Cargo.lock", "generated");
  write_file(d / ".git/Cargo.lock", "never");
  auto only_root = hash_files({"**/Cargo.lock", "!**/target/**"}, d.path(), EmptyMatch::error);
  EXPECT_EQ(only_root.value(), sha256_hex(raw(sha256_hex("root"))));
}

TEST(HashFiles, EmptyMatchIsAnErrorNamingTheGlob) {
  TempDir d;
  auto r = hash_files({"**/go.sum"}, d.path(), EmptyMatch::error);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("**/go.sum"), std::string::npos);
  EXPECT_EQ(hash_files({"**/go.sum"}, d.path(), EmptyMatch::allow).value(), "");
}

TEST(HashFiles, ContentChangeChangesTheHash) {
  TempDir d;
  write_file(d / "package-lock.json", "{}");
  auto a = hash_files({"package-lock.json"}, d.path(), EmptyMatch::error).value();
  write_file(d / "package-lock.json", "{\"x\":1}");
  EXPECT_NE(a, hash_files({"package-lock.json"}, d.path(), EmptyMatch::error).value());
}
