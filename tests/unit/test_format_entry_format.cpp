#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "regcache/format/entry_format.hpp"

using namespace regcache;

namespace {
EntryInfo sample_entry() {
  EntryInfo e;
  e.key = "cargo/linux x86";
  e.created = "2026-11-25T10:00:00.000000000Z";
  e.roots = {"ws/target", "home/.cargo/registry"};
  e.files = 42;
  e.size = 1234;
  e.config = {kOciConfig, "sha256:" + std::string(64, 'c'), 99, {}};
  e.layers.push_back({"application/vnd.oci.image.layer.v1.tar+zstd",
                      "sha256:" + std::string(64, 'a'),
                      10,
                      {{kAnnoPackSize, "2048"}}});
  return e;
}
}  // namespace

TEST(EntryFormat, ManifestRoundTrip) {
  auto parsed = parse_manifest(build_manifest(sample_entry()));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->key, "cargo/linux x86");
  EXPECT_EQ(parsed->roots, (std::vector<std::string>{"ws/target", "home/.cargo/registry"}));
  EXPECT_EQ(parsed->files, 42u);
  EXPECT_EQ(parsed->size, 1234u);
  EXPECT_EQ(parsed->created, "2026-11-25T10:00:00.000000000Z");
  ASSERT_EQ(parsed->layers.size(), 1u);
  EXPECT_EQ(parsed->layers[0].annotations.at(kAnnoPackSize), "2048");
  EXPECT_EQ(parsed->config.size, 99u);
}

TEST(EntryFormat, ManifestIsAValidImageManifest) {
  auto j = nlohmann::json::parse(build_manifest(sample_entry()));
  EXPECT_EQ(j["schemaVersion"], 2);
  EXPECT_EQ(j["mediaType"], kOciManifest);
  EXPECT_EQ(j["config"]["mediaType"], kOciConfig);
  EXPECT_TRUE(j["annotations"].contains(kAnnoCreated));
}

TEST(EntryFormat, ConfigListsDiffIdsAndIsDeterministic) {
  std::vector<LayerInfo> layers = {{{}, "sha256:" + std::string(64, '1')},
                                   {{}, "sha256:" + std::string(64, '2')}};
  auto j = nlohmann::json::parse(build_config(layers));
  EXPECT_EQ(j["os"], "linux");
  EXPECT_EQ(j["rootfs"]["type"], "layers");
  EXPECT_EQ(j["rootfs"]["diff_ids"].size(), 2u);
  EXPECT_EQ(build_config(layers), build_config(layers));
}

TEST(EntryFormat, RejectsMalformedManifests) {
  EXPECT_FALSE(parse_manifest("not json").ok());
  EXPECT_FALSE(parse_manifest("[]").ok());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":1})").ok());
  EXPECT_FALSE(
      parse_manifest(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"})")
          .ok());
  auto bad_digest = nlohmann::json::parse(build_manifest(sample_entry()));
  bad_digest["layers"][0]["digest"] = "sha256:../../etc/passwd";
  EXPECT_FALSE(parse_manifest(bad_digest.dump()).ok());
  auto negative = nlohmann::json::parse(build_manifest(sample_entry()));
  negative["layers"][0]["size"] = -5;
  EXPECT_FALSE(parse_manifest(negative.dump()).ok());
}

TEST(EntryFormat, CreatedIsRfc3339Utc) {
  std::string t = now_rfc3339();
  ASSERT_EQ(t.size(), 30u);
  EXPECT_EQ(t[4], '-');
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t.back(), 'Z');
}

// Found by fuzz/fuzz_manifest.cpp: a mediaType that is not a string threw a JSON exception.
TEST(EntryFormat, NonStringMediaTypeIsAnError) {
  auto j = nlohmann::json::parse(build_manifest(sample_entry()));
  j["mediaType"] = 7;
  auto r = parse_manifest(j.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::integrity);
}

TEST(EntryFormat, ConfigDiffIds) {
  std::vector<LayerInfo> layers(2);
  layers[0].diff_id = "sha256:aa";
  layers[1].diff_id = "sha256:bb";
  auto ids = parse_config_diff_ids(build_config(layers));
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{"sha256:aa", "sha256:bb"}));
  auto odd = parse_config_diff_ids(R"({"rootfs":{"diff_ids":["sha256:aa",5]}})");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(*odd, (std::vector<std::string>{"sha256:aa", ""}));
  for (const char* bad : {"", "[]", "{}", R"({"rootfs":[]})", R"({"rootfs":{"diff_ids":{}}})"})
    EXPECT_FALSE(parse_config_diff_ids(bad).ok()) << bad;
}
