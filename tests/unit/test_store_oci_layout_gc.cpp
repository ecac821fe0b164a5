#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "regcache/store/oci_layout/layout_gc.hpp"
#include "regcache/store/oci_layout/layout_store.hpp"
#include "regcache/util/sha256.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::TempDir;

namespace {

constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";

Descriptor put(Store& s, const std::string& bytes) {
  Descriptor d{"application/octet-stream", sha256_digest(bytes), bytes.size(), {}};
  EXPECT_TRUE(s.put_blob(d, {"", bytes}).ok());
  return d;
}

std::string manifest(const Descriptor& config, const std::vector<Descriptor>& layers) {
  auto desc = [](const Descriptor& d) {
    return nlohmann::json{{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  };
  nlohmann::json l = nlohmann::json::array();
  for (const auto& d : layers) l.push_back(desc(d));
  return nlohmann::json{
      {"schemaVersion", 2}, {"mediaType", kManifestType}, {"config", desc(config)}, {"layers", l}}
      .dump();
}

bool present(const TempDir& d, const std::string& digest) {
  return ::access((d / ("s/blobs/sha256/" + digest.substr(7))).c_str(), F_OK) == 0;
}

}  // namespace

TEST(LayoutGc, RemovesOnlyUnreferencedBlobsOutsideTheGracePeriod) {
  TempDir d;
  auto store = open_layout_store(d / "s").value();
  auto config = put(*store, "{}");
  auto shared = put(*store, "shared layer");
  auto only_a = put(*store, "layer of A");
  auto only_b = put(*store, "layer of B");
  std::string ma = manifest(config, {shared, only_a}), mb = manifest(config, {shared, only_b});
  ASSERT_TRUE(store->put_manifest("a", ma, kManifestType).ok());
  ASSERT_TRUE(store->put_manifest("b", mb, kManifestType).ok());
  ASSERT_TRUE(store->delete_manifest(sha256_digest(ma)).ok());

  auto young = collect_layout_garbage(d / "s", std::chrono::hours(1));
  ASSERT_TRUE(young.ok());
  EXPECT_EQ(young->removed_blobs, 0u);
  EXPECT_EQ(young->young_blobs, 2u);  // A's manifest and its own layer
  EXPECT_TRUE(present(d, only_a.digest));

  auto now = collect_layout_garbage(d / "s", std::chrono::seconds(0));
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->removed_blobs, 2u);
  EXPECT_FALSE(present(d, only_a.digest));
  EXPECT_FALSE(present(d, sha256_digest(ma)));
  for (const auto& kept : {config.digest, shared.digest, only_b.digest, sha256_digest(mb)})
    EXPECT_TRUE(present(d, kept)) << kept;
}

TEST(LayoutGc, LeavesTemporaryFilesAlone) {
  TempDir d;
  auto store = open_layout_store(d / "s").value();
  regcache::testing::write_file(d / "s/blobs/sha256/.regcache-tmp-1-abc", "partial");
  ASSERT_TRUE(collect_layout_garbage(d / "s", std::chrono::seconds(0)).ok());
  EXPECT_EQ(::access((d / "s/blobs/sha256/.regcache-tmp-1-abc").c_str(), F_OK), 0);
}

TEST(LayoutStore, RecordsLastUseInTheIndex) {
  TempDir d;
  auto store = open_layout_store(d / "s").value();
  auto config = put(*store, "{}");
  std::string m = manifest(config, {});
  ASSERT_TRUE(store->put_manifest("t", m, kManifestType).ok());
  ASSERT_NE(store->usage(), nullptr);
  EXPECT_TRUE(store->usage()->read_uses().value().empty());
  ASSERT_TRUE(store->usage()->record_use(sha256_digest(m), "2026-01-05T00:00:00.000000000Z").ok());
  ASSERT_TRUE(store->usage()->record_use(sha256_digest(m), "2026-01-03T00:00:00.000000000Z").ok());
  auto uses = store->usage()->read_uses().value();
  EXPECT_EQ(uses.at(sha256_digest(m)), "2026-01-05T00:00:00.000000000Z");  // the newest stays
  ASSERT_TRUE(store->delete_manifest(sha256_digest(m)).ok());
  EXPECT_TRUE(store->usage()->read_uses().value().empty());
}
