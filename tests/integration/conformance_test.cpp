// One Store conformance suite, run unchanged against the local OCI layout and the
// registry client talking to a real registry in each auth mode (open, Basic over TLS,
// token). Registry cases are skipped when the test services are not running.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "regcache/store/oci_layout/layout_store.hpp"
#include "regcache/store/registry/registry_store.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/sha256.hpp"

using namespace regcache;

namespace {

std::optional<nlohmann::json> services() {
  const char* dir = std::getenv("REGCACHE_SERVICES_DIR");
  if (!dir) return std::nullopt;
  auto text = read_file(std::string(dir) + "/services.json");
  if (!text.ok()) return std::nullopt;
  return nlohmann::json::parse(text.value());
}

struct Backend {
  std::string name;
  std::string tmp;
  std::unique_ptr<Store> store;
};

Backend make_backend(const std::string& mode, uint64_t chunk_threshold = 1ull << 30) {
  Backend b;
  b.name = mode;
  b.tmp = std::filesystem::temp_directory_path().string() + "/regcache-conf-" + random_hex(10);
  std::filesystem::create_directories(b.tmp);
  if (mode == "layout") {
    b.store = open_layout_store(b.tmp + "/layout").value();
    return b;
  }
  auto s = services();
  if (!s) return b;
  StoreRef ref;
  ref.kind = StoreKind::registry;
  ref.repository = "conformance/" + random_hex(12);
  RegistryOptions o;
  o.chunk_threshold = chunk_threshold;
  o.chunk_size = 1 << 20;
  std::optional<Credentials> creds;
  if (mode == "open") {
    ref.host = (*s)["REG_OPEN"];
    o.transport = Transport::http;
  } else if (mode == "basic") {
    ref.host = (*s)["REG_BASIC"];
    o.tls.ca.file = (*s)["REG_CA"];
    creds = Credentials{(*s)["REG_BASIC_USER"], (*s)["REG_BASIC_PASSWORD"], ""};
  } else {
    ref.host = (*s)["REG_TOKEN"];
    o.transport = Transport::http;
    creds = Credentials{(*s)["REG_TOKEN_USER"], (*s)["REG_TOKEN_PASSWORD"], ""};
  }
  b.store = make_registry_store(ref, creds, o);
  return b;
}

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    b_ = make_backend(GetParam());
    if (!b_.store) GTEST_SKIP() << "test services not running";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(b_.tmp, ec);
  }
  Descriptor put_bytes(const std::string& bytes) {
    Descriptor d{"application/octet-stream", sha256_digest(bytes), bytes.size(), {}};
    EXPECT_TRUE(b_.store->put_blob(d, {"", bytes}).ok());
    return d;
  }
  std::string manifest_for(const Descriptor& config, const Descriptor& layer,
                           const std::string& note) {
    nlohmann::json m = {{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                        {"config",
                         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                          {"digest", config.digest},
                          {"size", config.size}}},
                        {"layers",
                         {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+zstd"},
                           {"digest", layer.digest},
                           {"size", layer.size}}}},
                        {"annotations", {{"note", note}}}};
    return m.dump();
  }
  Backend b_;
};

TEST_P(Conformance, BlobRoundTrip) {
  std::string data(300000, 'q');
  data[1234] = 'x';
  Descriptor d{"application/octet-stream", sha256_digest(data), data.size(), {}};
  EXPECT_FALSE(b_.store->has_blob(d).value());
  ASSERT_TRUE(b_.store->put_blob(d, {"", data}).ok());
  EXPECT_TRUE(b_.store->has_blob(d).value());
  StringSink out;
  ASSERT_TRUE(b_.store->get_blob(d, &out).ok());
  EXPECT_EQ(out.str(), data);
  ASSERT_TRUE(b_.store->put_blob(d, {"", data}).ok());  // idempotent
}

TEST_P(Conformance, BlobFromFile) {
  std::string path = b_.tmp + "/blob";
  std::string data(2 << 20, 'f');
  std::ofstream(path) << data;
  Descriptor d{"application/octet-stream", sha256_digest(data), data.size(), {}};
  ASSERT_TRUE(b_.store->put_blob(d, {path, ""}).ok());
  StringSink out;
  ASSERT_TRUE(b_.store->get_blob(d, &out).ok());
  EXPECT_EQ(out.str(), data);
}

TEST_P(Conformance, MissingBlob) {
  Descriptor d{"application/octet-stream", sha256_digest("never stored"), 12, {}};
  EXPECT_FALSE(b_.store->has_blob(d).value());
  StringSink out;
  auto st = b_.store->get_blob(d, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::not_found);
}

TEST_P(Conformance, ManifestTagsListAndDelete) {
  auto config = put_bytes("{}");
  auto layer = put_bytes("layer bytes");
  std::string m1 = manifest_for(config, layer, "one"), m2 = manifest_for(config, layer, "two");
  EXPECT_FALSE(b_.store->get_manifest("t1").value());
  auto d1 = b_.store->put_manifest("t1", m1, "application/vnd.oci.image.manifest.v1+json");
  ASSERT_TRUE(d1.ok()) << d1.error().message;
  EXPECT_EQ(d1.value(), sha256_digest(m1));
  ASSERT_TRUE(b_.store->put_manifest("t2", m2, "application/vnd.oci.image.manifest.v1+json").ok());
  auto got = b_.store->get_manifest("t1").value();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->bytes, m1);
  EXPECT_EQ(got->digest, d1.value());
  auto by_digest = b_.store->get_manifest(d1.value()).value();
  ASSERT_TRUE(by_digest);
  EXPECT_EQ(by_digest->bytes, m1);
  auto tags = b_.store->list_tags().value();
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<std::string>{"t1", "t2"}));
  ASSERT_TRUE(b_.store->delete_manifest(d1.value()).ok());
  EXPECT_FALSE(b_.store->get_manifest("t1").value());
  EXPECT_EQ(b_.store->list_tags().value(), std::vector<std::string>{"t2"});
}

TEST_P(Conformance, RetaggingReplaces) {
  auto config = put_bytes("{}");
  auto layer = put_bytes("l");
  std::string m1 = manifest_for(config, layer, "a"), m2 = manifest_for(config, layer, "b");
  ASSERT_TRUE(
      b_.store->put_manifest("same", m1, "application/vnd.oci.image.manifest.v1+json").ok());
  ASSERT_TRUE(
      b_.store->put_manifest("same", m2, "application/vnd.oci.image.manifest.v1+json").ok());
  EXPECT_EQ(b_.store->get_manifest("same").value()->bytes, m2);
}

TEST_P(Conformance, EmptyRepositoryHasNoTags) {
  EXPECT_TRUE(b_.store->list_tags().value().empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance,
                         ::testing::Values("layout", "open", "basic", "token"),
                         [](const auto& p) { return p.param; });

TEST(ConformanceRegistry, ChunkedUpload) {
  auto b = make_backend("open", 1 << 20);
  if (!b.store) GTEST_SKIP() << "test services not running";
  std::string path = b.tmp + "/big";
  std::string data;
  for (int i = 0; i < (3 << 20) + 777; ++i) data.push_back(static_cast<char>(i * 7));
  std::ofstream(path, std::ios::binary) << data;
  Descriptor d{"application/octet-stream", sha256_digest(data), data.size(), {}};
  ASSERT_TRUE(b.store->put_blob(d, {path, ""}).ok());
  StringSink out;
  ASSERT_TRUE(b.store->get_blob(d, &out).ok());
  EXPECT_EQ(sha256_digest(out.str()), d.digest);
  std::filesystem::remove_all(b.tmp);
}

}  // namespace
