#include <gtest/gtest.h>

#include <set>

#include "regcache/store/registry/ca_bundle.hpp"

using namespace regcache;

namespace {

// A filesystem holding exactly `paths`.
std::function<bool(const std::string&)> holding(std::set<std::string> paths) {
  return [paths = std::move(paths)](const std::string& p) { return paths.count(p) > 0; };
}

}  // namespace

TEST(CaBundle, EachDistributionsBundleIsFoundWhereItKeepsIt) {
  for (const char* path : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                           "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem"}) {
    auto r = find_ca_locations({}, holding({path}));
    ASSERT_TRUE(r.ok()) << path;
    EXPECT_EQ(r.value().file, path);
    EXPECT_EQ(r.value().dir, "");
  }
}

TEST(CaBundle, TheFirstSystemBundleInOrderWins) {
  auto r =
      find_ca_locations({}, holding({"/etc/ssl/cert.pem", "/etc/pki/tls/certs/ca-bundle.crt"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().file, "/etc/pki/tls/certs/ca-bundle.crt");
}

TEST(CaBundle, VariablesComeBeforeTheSystemBundle) {
  auto system =
      holding({"/etc/ssl/certs/ca-certificates.crt", "/ca/mine.pem", "/ca/ssl.pem", "/ca/dir"});
  auto own = find_ca_locations({"/ca/mine.pem", "/ca/ssl.pem", "/ca/dir"}, system);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own.value().file, "/ca/mine.pem");
  EXPECT_EQ(own.value().dir, "") << "REGCACHE_CA_FILE alone decides";
  auto ssl = find_ca_locations({"", "/ca/ssl.pem", "/ca/dir"}, system);
  ASSERT_TRUE(ssl.ok());
  EXPECT_EQ(ssl.value().file, "/ca/ssl.pem");
  EXPECT_EQ(ssl.value().dir, "/ca/dir");
  auto dir = find_ca_locations({"", "", "/ca/dir"}, system);
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(dir.value().file, "");
  EXPECT_EQ(dir.value().dir, "/ca/dir");
}

TEST(CaBundle, AVariableNamingAMissingPathIsAnErrorNamingIt) {
  auto system = holding({"/etc/ssl/certs/ca-certificates.crt"});
  for (auto [vars, name] : {std::pair{CaVariables{"/nope.pem", "", ""}, "REGCACHE_CA_FILE"},
                            std::pair{CaVariables{"", "/nope.pem", ""}, "SSL_CERT_FILE"},
                            std::pair{CaVariables{"", "", "/nope.pem"}, "SSL_CERT_DIR"}}) {
    auto r = find_ca_locations(vars, system);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().kind, ErrorKind::usage);
    EXPECT_NE(r.error().message.find(name), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("/nope.pem"), std::string::npos) << r.error().message;
  }
}

TEST(CaBundle, NoneAnywhereNamesEveryPlaceTried) {
  auto r = find_ca_locations({}, holding({}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << "one line";
  for (const auto& path : system_ca_bundles())
    EXPECT_NE(r.error().message.find(path), std::string::npos) << path;
  EXPECT_NE(r.error().message.find("REGCACHE_CA_FILE"), std::string::npos);
}
