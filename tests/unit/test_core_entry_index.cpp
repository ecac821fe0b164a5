// The lookup index (core/entry_index.hpp, format/entry_index_format.hpp) and the lookups
// that use it (core/lookup.hpp): a lookup reads the manifests of the tags the index does
// not place and of the candidates it tries, and still finds what the index lacks or gets
// wrong.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "counting_store.hpp"
#include "regcache/archive/compression.hpp"
#include "regcache/core/entry_index.hpp"
#include "regcache/core/lookup.hpp"
#include "regcache/format/entry_index_format.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/lifecycle/entry_listing.hpp"
#include "regcache/util/sha256.hpp"

using namespace regcache;
using regcache::testing::CountingStore;

namespace {

StoreProperties registry_like() {
  StoreProperties p;
  p.lookup_index = LookupIndexUse::kept;
  return p;
}

// Returns "2024-01-01T00:00:NNZ"-like times that sort as n does (n < 100000).
std::string time_at(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "2024-01-%02dT%02d:%02d:%02dZ", 1 + n / 3600 / 24 % 28,
                n / 3600 % 24, n / 60 % 60, n % 60);
  return buf;
}

// Puts an entry manifest for key, created at `created`, under its tag; returns its digest.
std::string put_entry(Store& s, const std::string& key, const std::string& created) {
  EntryInfo e;
  e.key = key;
  e.created = created;
  e.roots = {"ws/cache"};
  e.files = 1;
  e.size = 7;
  e.config = {kOciConfig, sha256_digest("config " + key + created), 10, {}};
  const std::string layer = "layer " + key + std::string(100 - 6 - key.size(), '.');
  e.layers = {{kOciLayerZstd, sha256_digest(layer), layer.size(), {}}};
  EXPECT_TRUE(s.put_blob(e.layers[0], {"", layer}).ok());
  auto d = s.put_manifest(tag_for_key(key), build_manifest(e), kOciManifest);
  EXPECT_TRUE(d.ok()) << d.error().message;
  return d.ok() ? d.value() : "";
}

std::string key_at(int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "build-%03d", n);
  return buf;
}

// Puts entries build-000 .. build-(n-1), each newer than the one before.
void put_entries(Store& s, int n) {
  for (int i = 0; i < n; ++i) put_entry(s, key_at(i), time_at(i));
}

// Writes an index row for tag that names `key` instead of the key its manifest holds.
void plant_lying_row(Store& s, const std::string& tag, const std::string& key) {
  LookupIndex liar(s);
  auto m = s.get_manifest(tag).value();
  IndexRow row = index_row(m->digest, parse_manifest(m->bytes).value());
  row.key = key;
  liar.learned(tag, row);
  liar.write_in_background();
}

// Looks up a key that has no entry with the restore key `prefix`, as a restore does (and
// writes what it learned); returns the matched key, "" on a miss.
std::string lookup(Store& s, const std::string& prefix = "build-") {
  LookupIndex index(s);
  auto found = find_entry(s, "no-such-key", {prefix}, {}, &index);
  index.write_in_background();
  EXPECT_TRUE(found.ok()) << found.error().message;
  return found.ok() && *found ? (*found)->info.key : "";
}

// Returns the rows a fresh reader of the index sees.
IndexRows rows_in(Store& s) {
  LookupIndex index(s);
  return *index.rows();
}

}  // namespace

TEST(EntryIndexFormat, RowsRoundTrip) {
  IndexRows rows;
  rows["build-1"] = {sha256_digest("a"),
                     "build-1",
                     "2024-01-01T00:00:00Z",
                     "refs/heads/main",
                     3,
                     30,
                     20,
                     2,
                     std::vector<std::string>{"SHA256:abc"}};
  rows["x-0123456789abcdef"] = {sha256_digest("b"), "x/y", "2024-01-02T00:00:00Z", "", 0, 0, 0, 0,
                                std::nullopt};
  auto back = parse_rows_json(rows_json(rows));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, rows);

  IndexManifest m{rows, Descriptor{kIndexRowsMediaType, sha256_digest("rows"), 42, {}}};
  auto parsed = parse_index_manifest(build_index_manifest(m, "2024-01-03T00:00:00Z"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->inline_rows, rows);
  ASSERT_TRUE(parsed->rows_blob);
  EXPECT_EQ(parsed->rows_blob->digest, sha256_digest("rows"));
}

TEST(EntryIndexFormat, HostileRowsAreDropped) {
  const std::string good = sha256_digest("a");
  nlohmann::json rows = {
      {"ok",
       {{"digest", good},
        {"key", "ok"},
        {"created", "t"},
        {"files", 1},
        {"size", 1},
        {"stored", 1},
        {"layers", 1}}},
      {"bad tag!",
       {{"digest", good}, {"key", "k"}, {"files", 1}, {"size", 1}, {"stored", 1}, {"layers", 1}}},
      {"bad-digest",
       {{"digest", "md5:00"},
        {"key", "k"},
        {"files", 1},
        {"size", 1},
        {"stored", 1},
        {"layers", 1}}},
      {"negative",
       {{"digest", good}, {"key", "k"}, {"files", -1}, {"size", 1}, {"stored", 1}, {"layers", 1}}},
      {"no-key", {{"digest", good}, {"files", 1}, {"size", 1}, {"stored", 1}, {"layers", 1}}},
      {"signers",
       {{"digest", good},
        {"key", "k"},
        {"files", 1},
        {"size", 1},
        {"stored", 1},
        {"layers", 1},
        {"signers", "not a list"}}},
      {"not-an-object", 12}};
  auto parsed = parse_rows_json(nlohmann::json{{"rows", rows}}.dump());
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_TRUE(parsed->count("ok"));
  EXPECT_FALSE(parse_rows_json("[1,2]").ok());
  EXPECT_FALSE(parse_rows_json("{\"rows\":").ok());
}

TEST(EntryIndexFormat, OtherManifestsAreNoIndex) {
  EXPECT_FALSE(parse_index_manifest("{}").ok());
  IndexManifest m;
  std::string text = build_index_manifest(m, "t");
  auto j = nlohmann::json::parse(text);
  j["artifactType"] = "application/vnd.example+json";
  EXPECT_FALSE(parse_index_manifest(j.dump()).ok());
  j = nlohmann::json::parse(text);
  j["layers"][0]["mediaType"] = "application/octet-stream";
  EXPECT_FALSE(parse_index_manifest(j.dump()).ok());
  j = nlohmann::json::parse(text);
  j["layers"][0] = {{"mediaType", kIndexRowsMediaType},
                    {"digest", sha256_digest("x")},
                    {"size", kMaxIndexRowsBytes + 1}};
  EXPECT_FALSE(parse_index_manifest(j.dump()).ok()) << "a rows blob beyond the bound";
}

// Without an index a lookup reads every matching manifest and writes what it read; the
// next one reads the index and one manifest, however many entries there are.
TEST(LookupIndex, TheSecondLookupReadsOneManifest) {
  CountingStore s(registry_like());
  put_entries(s, 40);
  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-039");
  EXPECT_EQ(s.manifest_gets, 1 + 1 + 40) << "the key, the index, every entry";
  EXPECT_EQ(s.manifest_puts, 1) << "the index, written with what the lookup read";
  EXPECT_EQ(rows_in(s).size(), 40u);

  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-039");
  EXPECT_EQ(s.manifest_gets, 1 + 1 + 1) << "the key, the index, the newest entry";
  EXPECT_EQ(s.tag_lists, 1);
  EXPECT_EQ(s.manifest_puts, 0) << "nothing new to write";
}

TEST(LookupIndex, AnEntryTheIndexLacksIsStillFound) {
  CountingStore s(registry_like());
  put_entries(s, 10);
  lookup(s);
  put_entry(s, "build-new", time_at(100));  // saved by someone who did not write the index
  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-new");
  EXPECT_EQ(s.gets_of("build-new"), 1);
  EXPECT_EQ(s.manifest_puts, 1) << "the row learned goes into the index";
  EXPECT_TRUE(rows_in(s).count("build-new"));
}

TEST(LookupIndex, ARowOfADeletedTagIsIgnored) {
  CountingStore s(registry_like());
  put_entries(s, 10);
  lookup(s);
  auto newest = s.get_manifest("build-009").value();
  ASSERT_TRUE(s.delete_manifest(newest->digest).ok());
  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-008");
  EXPECT_EQ(s.gets_of("build-009"), 0) << "not in the tag list: its row places nothing";
}

// A tag that now holds another manifest than its row names is placed by that manifest.
TEST(LookupIndex, AStaleRowIsPlacedByTheManifest) {
  CountingStore s(registry_like());
  put_entries(s, 10);
  lookup(s);
  put_entry(s, "build-009", "2020-01-01T00:00:00Z");  // re-saved, and now the oldest
  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-008");
  EXPECT_EQ(s.gets_of("build-009"), 1);
  EXPECT_EQ(rows_in(s).at("build-009").created, "2020-01-01T00:00:00Z") << "the row is fixed";
}

// A row that claims another key does not hide the entry: its manifest decides.
TEST(LookupIndex, ARowClaimingAnotherKeyIsRead) {
  CountingStore s(registry_like());
  put_entries(s, 3);
  plant_lying_row(s, "build-002", "other-key");
  EXPECT_EQ(rows_in(s).at("build-002").key, "other-key");
  EXPECT_EQ(lookup(s), "build-002");
  EXPECT_EQ(rows_in(s).at("build-002").key, "build-002") << "the row is fixed";
}

// The same row does not hide the entry from `list --prefix`: a row whose key the prefix
// does not take is read from its manifest.
TEST(LookupIndex, ARowClaimingAnotherKeyDoesNotHideAnEntryFromAList) {
  CountingStore s(registry_like());
  put_entries(s, 3);
  plant_lying_row(s, "build-002", "zzz");
  auto listed = list_entries(s, "build-", ListFrom::index, 2);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  std::vector<std::string> keys;
  for (const auto& e : *listed) keys.push_back(e.info.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"build-000", "build-001", "build-002"}));
}

// Past kInlineIndexRows rows the index moves them into its blob; a reader sees them all.
TEST(LookupIndex, ManyRowsMoveToTheBlob) {
  CountingStore s(registry_like());
  const int n = static_cast<int>(kInlineIndexRows) + 50;
  put_entries(s, n);
  EXPECT_EQ(lookup(s), key_at(n - 1));
  auto m = s.get_manifest(kIndexTag).value();
  ASSERT_TRUE(m);
  auto parsed = parse_index_manifest(m->bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->inline_rows.empty());
  ASSERT_TRUE(parsed->rows_blob);
  EXPECT_EQ(rows_in(s).size(), static_cast<size_t>(n));

  // One more entry: its row goes inline, the blob stays.
  put_entry(s, "build-new", time_at(n + 1));
  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-new");
  EXPECT_EQ(s.blob_puts, 0);
  parsed = parse_index_manifest(s.get_manifest(kIndexTag).value()->bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->inline_rows.size(), 1u);
  EXPECT_EQ(rows_in(s).size(), static_cast<size_t>(n + 1));
  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-new");
  EXPECT_EQ(s.manifest_gets, 3);
  EXPECT_EQ(s.blob_gets, 1) << "the rows blob";
}

// When many of the blob's rows name deleted tags, a lookup that listed the tags writes the
// blob again without them.
TEST(LookupIndex, RowsOfDeletedTagsAreDropped) {
  CountingStore s(registry_like());
  const int n = 2 * static_cast<int>(kInlineIndexRows);
  put_entries(s, n);
  lookup(s);
  for (int i = 0; i < n - 10; ++i) {
    auto m = s.get_manifest(key_at(i)).value();
    ASSERT_TRUE(s.delete_manifest(m->digest).ok());
  }
  s.reset_counts();
  EXPECT_EQ(lookup(s), key_at(n - 1));
  EXPECT_EQ(s.blob_puts, 1) << "a new rows blob";
  EXPECT_EQ(rows_in(s).size(), 10u);
}

TEST(LookupIndex, AnUnreadableIndexIsNotWritten) {
  CountingStore s(registry_like());
  put_entries(s, 5);
  s.fail_reads_of(kIndexTag);
  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-004");
  EXPECT_EQ(s.manifest_puts, 0);
}

TEST(LookupIndex, ADamagedRowsBlobIsWrittenAnew) {
  CountingStore s(registry_like());
  const int n = static_cast<int>(kInlineIndexRows) + 10;
  put_entries(s, n);
  lookup(s);
  auto blob = parse_index_manifest(s.get_manifest(kIndexTag).value()->bytes)->rows_blob;
  ASSERT_TRUE(blob);
  s.damage_blob(blob->digest);
  s.reset_counts();
  EXPECT_EQ(lookup(s), key_at(n - 1));
  EXPECT_EQ(s.manifest_gets, 1 + 1 + n) << "placed by nothing: every entry is read";
  EXPECT_EQ(s.blob_puts, 1) << "and the rows written anew";
  EXPECT_EQ(s.manifest_puts, 1);
}

// A row from a manifest read does not know the signers the saver wrote: they are kept.
TEST(LookupIndex, SignersTheSaverWroteAreKept) {
  CountingStore s(registry_like());
  put_entries(s, 2);
  auto m = s.get_manifest("build-001").value();
  {
    LookupIndex saver(s);
    saver.start_read(IndexWrite::expected);
    IndexRow row = index_row(m->digest, parse_manifest(m->bytes).value());
    row.signers = std::vector<std::string>{"SHA256:key"};
    saver.learned("build-001", row);
    saver.write_in_background();
  }
  EXPECT_EQ(lookup(s), "build-001");  // learns build-000 from its manifest
  auto rows = rows_in(s);
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_TRUE(rows.at("build-001").signers);
  EXPECT_EQ(*rows.at("build-001").signers, std::vector<std::string>{"SHA256:key"});
  EXPECT_FALSE(rows.at("build-000").signers);
}

// Learning again, from its manifest, a row the index holds with signers changes nothing.
TEST(LookupIndex, ARowLearnedWithoutSignersOverTheSameEntryWritesNothing) {
  CountingStore s(registry_like());
  put_entries(s, 1);
  auto m = s.get_manifest("build-000").value();
  IndexRow row = index_row(m->digest, parse_manifest(m->bytes).value());
  {
    LookupIndex saver(s);
    saver.start_read(IndexWrite::expected);
    IndexRow signed_row = row;
    signed_row.signers = std::vector<std::string>{"SHA256:key"};
    saver.learned("build-000", signed_row);
    saver.write_in_background();
  }
  s.reset_counts();
  {
    LookupIndex reader(s);
    reader.start_read(IndexWrite::expected);
    reader.learned("build-000", row);
    reader.write_in_background();
  }
  EXPECT_EQ(s.manifest_puts, 0);
  EXPECT_EQ(s.blob_puts, 0);
  ASSERT_TRUE(rows_in(s).at("build-000").signers);
}

// A store that keeps no index (a local layout) gets no request for one.
TEST(LookupIndex, AStoreWithoutIndexGetsNoRequestForIt) {
  CountingStore s;
  put_entries(s, 5);
  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-004");
  EXPECT_EQ(s.gets_of(kIndexTag), 0);
  EXPECT_EQ(s.manifest_puts, 0);
  EXPECT_EQ(s.manifest_gets, 1 + 5);
}

TEST(EntryListing, TheIndexShowsEntriesWithoutReadingThem) {
  CountingStore s(registry_like());
  put_entries(s, 20);
  lookup(s);
  s.reset_counts();
  auto listed = list_entries(s, "", ListFrom::index);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 20u);
  EXPECT_EQ(listed->front().info.key, "build-019");
  EXPECT_EQ(listed->front().stored, 100u);
  EXPECT_EQ(listed->front().layers, 1u);
  EXPECT_EQ(s.manifest_gets, 1) << "the index alone";

  s.reset_counts();
  auto read = list_entries(s, "build-01", ListFrom::manifests);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->size(), 10u);
  EXPECT_EQ(s.manifest_gets, 10);
  EXPECT_EQ(read->front().stored, listed->front().stored);
}

TEST(EntryIndexFormat, TooManyValuesAreRefusedBeforeParsing) {
  std::string text = "{\"rows\":{\"a\":{\"signers\":[0";
  for (size_t i = 0; i < kMaxIndexJsonValues; ++i) text += ",0";
  text += "]}}}";
  auto parsed = parse_rows_json(text);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().kind, ErrorKind::integrity);
}

TEST(EntryIndexFormat, TheOldestRowsGoFirst) {
  IndexRows rows;
  const IndexRow base{sha256_digest("a"), "k", "", "", 1, 1, 1, 1, std::nullopt};
  for (size_t i = 0; i < kMaxIndexRows + 10; ++i) {
    IndexRow r = base;
    r.created = time_at(static_cast<int>(i));
    rows.emplace("t" + std::to_string(i), r);
  }
  keep_newest_rows(&rows);
  EXPECT_EQ(rows.size(), kMaxIndexRows);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(rows.count("t" + std::to_string(i))) << i;
  EXPECT_TRUE(rows.count("t10"));

  // Rows of the largest size allowed: the bytes bound holds before the count does.
  IndexRows big;
  IndexRow wide = base;
  wide.ref = std::string(kMaxIndexFieldChars, 'r');
  for (int i = 0; i < 20000; ++i) {
    wide.created = time_at(i);
    big.emplace("t" + std::to_string(i), wide);
  }
  keep_newest_rows(&big);
  EXPECT_LT(big.size(), 20000u);
  EXPECT_LE(rows_json(big).size(), kMaxIndexRowsBytes);
  EXPECT_TRUE(big.count("t19999")) << "the newest stays";
}

// A save whose base is found by restore key lists the tags before its own exists: its row
// must survive the trimming of rows whose tags are not listed.
TEST(LookupIndex, ARowLearnedSurvivesATagListWithoutItsTag) {
  CountingStore s(registry_like());
  put_entries(s, 3);
  lookup(s);
  {
    LookupIndex saver(s);
    saver.start_read(IndexWrite::expected);
    auto base = find_entry(s, "build-new", {"build-"}, {}, &saver);
    ASSERT_TRUE(base.ok() && *base);
    put_entry(s, "build-new", time_at(100));
    auto m = s.get_manifest("build-new").value();
    saver.learned("build-new", index_row(m->digest, parse_manifest(m->bytes).value()));
    saver.write_in_background();
  }
  EXPECT_TRUE(rows_in(s).count("build-new"));
}

// A rows blob that cannot be used (here: it decompresses past the bound) is written anew,
// not left to cost every later lookup its download and every manifest.
TEST(LookupIndex, AnOversizedRowsBlobIsWrittenAnew) {
  CountingStore s(registry_like());
  put_entries(s, 5);
  StringSink packed;
  auto z = make_compressor(Compression::zstd, 3, &packed);
  const std::string huge = "{\"rows\":{}" + std::string(kMaxIndexRowsBytes, ' ') + "}";
  ASSERT_TRUE(z->write(huge.data(), huge.size()).ok());
  ASSERT_TRUE(z->finish().ok());
  Descriptor blob{kIndexRowsMediaType, sha256_digest(packed.str()), packed.str().size(), {}};
  ASSERT_TRUE(s.put_blob(blob, {"", packed.str()}).ok());
  const std::string empty = "{}";
  ASSERT_TRUE(s.put_blob({kOciEmpty, sha256_digest(empty), 2, {}}, {"", empty}).ok());
  ASSERT_TRUE(s.put_manifest(kIndexTag, build_index_manifest({{}, blob}, "t"), kOciManifest).ok());
  s.reset_counts();
  EXPECT_EQ(lookup(s), "build-004");
  EXPECT_EQ(s.manifest_puts, 1) << "written anew";
  auto parsed = parse_index_manifest(s.get_manifest(kIndexTag).value()->bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->rows_blob);
  EXPECT_EQ(parsed->inline_rows.size(), 5u);
}
