// The save and restore pipelines (save_entry, restore_entry, find_entry) run against the
// in-memory store: key lookup, partial restores, verification of what a manifest claims,
// base selection and layer reuse, trust rules, the "exists" short-circuit, the repair of a
// manifest naming a vanished base blob, and empty saves. No registry is involved; a small
// Store decorator (TestStore) plays a registry repository, hides or corrupts blobs, and
// counts uploads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hiding_store.hpp"
#include "regcache/core/entry_index.hpp"
#include "regcache/core/lookup.hpp"
#include "regcache/core/restore.hpp"
#include "regcache/core/save.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "regcache/util/clock.hpp"
#include "regcache/util/sha256.hpp"
#include "regcache/util/sink.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_file;

// ---------------------------------------------------------------------------------------
// Helpers

// Every walked entry (file or directory) gets a pack, hence a layer, of its own, so that
// reuse can be counted layer by layer.
constexpr PackOptions kOnePackPerEntry{1, 2, 1 << 20};

// Pins the clock for entries' creation times; the system clock is back when it goes.
struct FixedClock {
  void at(const char* rfc3339) { set_fixed_time(parse_rfc3339(rfc3339)); }
  ~FixedClock() { set_fixed_time(std::nullopt); }
};

// A workspace and a home directory to save from, and a fresh pair to restore into.
struct Dirs {
  TempDir tmp;
  Anchors src{tmp / "ws", tmp / "home"};
  Anchors dst{tmp / "ws2", tmp / "home2"};
};

SaveOptions save_options(const Anchors& anchors, const std::string& key,
                         std::vector<std::string> paths) {
  SaveOptions o;
  o.key = key;
  o.paths = std::move(paths);
  o.anchors = anchors;
  o.jobs = 2;
  o.cpu_jobs = 2;
  o.packs = kOnePackPerEntry;
  return o;
}

RestoreOptions restore_options(const Anchors& anchors, const std::string& key,
                               std::vector<std::string> restore_keys = {}) {
  RestoreOptions o;
  o.key = key;
  o.restore_keys = std::move(restore_keys);
  o.anchors = anchors;
  o.jobs = 2;
  return o;
}

// Saves and expects success.
SaveReport save_ok(Store& store, const SaveOptions& o) {
  auto r = save_entry(store, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : SaveReport{};
}

// Restores and expects success.
RestoreReport restore_ok(Store& store, const RestoreOptions& o) {
  auto r = restore_entry(store, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : RestoreReport{};
}

// The regular files below dir (relative path -> content); empty when dir is absent.
std::map<std::string, std::string> files_below(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) {
      out[std::filesystem::relative(it->path(), dir).string()] = slurp(it->path().string());
    }
  }
  return out;
}

// The names directly inside dir (none when it is absent).
std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    out.insert(e.path().filename().string());
  return out;
}

// The stored entry for key (its manifest, parsed).
EntryInfo entry_of(Store& store, const std::string& key) {
  auto m = store.get_manifest(tag_for_key(key));
  EXPECT_TRUE(m.ok() && m.value()) << key;
  if (!m.ok() || !m.value()) return {};
  auto info = parse_manifest(m.value()->bytes);
  EXPECT_TRUE(info.ok());
  return info.ok() ? info.value() : EntryInfo{};
}

std::set<std::string> layer_digests(const EntryInfo& e) {
  std::set<std::string> out;
  for (const auto& l : e.layers) out.insert(l.digest);
  return out;
}

// Sum of the sizes of the layers of `e` that `before` does not hold.
uint64_t new_layer_bytes(const EntryInfo& e, const EntryInfo& before) {
  auto old = layer_digests(before);
  uint64_t sum = 0;
  for (const auto& l : e.layers) sum += old.count(l.digest) ? 0 : l.size;
  return sum;
}

// A cache directory of four files in two subdirectories.
void make_cache(const Dirs& d, const std::string& tag = "v1") {
  write_file(d.src.workspace + "/cache/a.txt", "alpha " + tag);
  write_file(d.src.workspace + "/cache/sub/b.txt", std::string(3000, 'b'));
  write_file(d.src.workspace + "/cache/sub/c.bin", std::string("\0\1\2\3 binary", 12));
  write_file(d.src.workspace + "/cache/other/d.txt", "delta");
}

// Saves the cache directory (made with `content`) under key, with the clock at `when`.
SaveReport save_at(Store& store, const Dirs& d, FixedClock& clock, const std::string& key,
                   const std::string& content, const char* when) {
  make_cache(d, content);
  clock.at(when);
  return save_ok(store, save_options(d.src, key, {d.src.workspace + "/cache"}));
}

// ---------------------------------------------------------------------------------------
// Round trip

// A saved entry restores byte for byte into another workspace (and home, with
// --all-roots); without --all-roots only the workspace's roots are written.
TEST(PipelineRoundTrip, RestoresExactlyIntoAFreshWorkspace) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  write_file(d.src.home + "/.tool/index", "home file");
  auto saved = save_ok(
      *store, save_options(d.src, "rt", {d.src.workspace + "/cache", d.src.home + "/.tool"}));
  EXPECT_EQ(saved.result, SaveResult::saved);
  EXPECT_EQ(saved.files, 5u);
  EXPECT_GT(saved.layers, 5u);  // one per file and directory
  EXPECT_EQ(saved.reused_layers, 0u);
  EXPECT_EQ(entry_of(*store, "rt").roots, (std::vector<std::string>{"home/.tool", "ws/cache"}));

  auto rep = restore_ok(*store, restore_options(d.dst, "rt"));
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_EQ(rep.matched_digest, saved.digest);
  EXPECT_EQ(files_below(d.dst.workspace + "/cache"), files_below(d.src.workspace + "/cache"));
  EXPECT_EQ(rep.skipped_roots, std::vector<std::string>{"home/.tool"});
  EXPECT_FALSE(testing::exists_nofollow(d.dst.home + "/.tool"));

  auto all = restore_options(d.dst, "rt");
  all.all_roots = AllRoots::yes;
  EXPECT_EQ(restore_ok(*store, all).result, RestoreResult::hit);
  EXPECT_EQ(slurp(d.dst.home + "/.tool/index"), "home file");
}

// ---------------------------------------------------------------------------------------
// Key lookup

// The exact key is a hit; a restore-key prefix is a partial match with the newest entry
// of that prefix (by creation time, not by tag order).
TEST(PipelineLookup, ExactKeyHitsAndPrefixTakesTheNewest) {
  Dirs d;
  FixedClock clock;
  auto store = make_memory_store("memory", d.tmp.path());
  save_at(*store, d, clock, "build-1", "1", "2024-01-01T00:00:00Z");
  auto newest = save_at(*store, d, clock, "build-2", "2", "2024-03-01T00:00:00Z");
  // last in tag order, but older than build-2
  save_at(*store, d, clock, "build-3", "3", "2024-02-01T00:00:00Z");

  auto exact = find_entry(*store, "build-1", {"build-"}, {});
  ASSERT_TRUE(exact.ok() && exact.value());
  EXPECT_EQ((*exact)->match, Match::exact);
  EXPECT_EQ((*exact)->info.key, "build-1");

  auto rep = restore_ok(*store, restore_options(d.dst, "build-9", {"build-"}));
  EXPECT_EQ(rep.result, RestoreResult::partial);
  EXPECT_EQ(rep.matched_key, "build-2");
  EXPECT_EQ(rep.matched_digest, newest.digest);
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/a.txt"), "alpha 2");

  auto hit = restore_ok(*store, restore_options(d.dst, "build-3", {"build-"}));
  EXPECT_EQ(hit.result, RestoreResult::hit);
  EXPECT_EQ(hit.matched_key, "build-3");
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/a.txt"), "alpha 3");

  auto none = restore_ok(*store, restore_options(d.dst, "build-9", {"test-"}));
  EXPECT_EQ(none.result, RestoreResult::miss);
  EXPECT_TRUE(none.miss_reason.empty());
}

// On a store that keeps the lookup index (a registry), each save writes its entry's row,
// and a restore key finds the newest entry through it.
TEST(PipelineLookup, SavesWriteTheirRowsToTheLookupIndex) {
  Dirs d;
  FixedClock clock;
  StoreProperties registry_like;
  registry_like.lookup_index = LookupIndexUse::kept;
  auto store = make_memory_store("memory", d.tmp.path(), registry_like);
  save_at(*store, d, clock, "build-1", "1", "2024-01-01T00:00:00Z");
  auto newest = save_at(*store, d, clock, "build-2", "2", "2024-02-01T00:00:00Z");

  LookupIndex index(*store);
  const IndexRows rows = *index.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.at("build-2").digest, newest.digest);
  EXPECT_EQ(rows.at("build-2").created.substr(0, 19), "2024-02-01T00:00:00");
  EXPECT_EQ(rows.at("build-2").files, newest.files);
  ASSERT_TRUE(rows.at("build-2").signers);
  EXPECT_TRUE(rows.at("build-2").signers->empty()) << "an unsigned save says so";

  auto rep = restore_ok(*store, restore_options(d.dst, "build-9", {"build-"}));
  EXPECT_EQ(rep.matched_key, "build-2");
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/a.txt"), "alpha 2");
}

// Restore-key prefixes are tried in order: the first one with any match wins, even when a
// later prefix has a newer entry.
TEST(PipelineLookup, PrefixesAreTriedInOrder) {
  Dirs d;
  FixedClock clock;
  auto store = make_memory_store("memory", d.tmp.path());
  save_at(*store, d, clock, "linux-old", "old", "2024-01-01T00:00:00Z");
  save_at(*store, d, clock, "any-new", "new", "2025-01-01T00:00:00Z");

  auto first = find_entry(*store, "linux-x", {"linux-", "any-"}, {});
  ASSERT_TRUE(first.ok() && first.value());
  EXPECT_EQ((*first)->match, Match::prefix);
  EXPECT_EQ((*first)->info.key, "linux-old");

  auto later = find_entry(*store, "linux-x", {"mac-", "any-"}, {});
  ASSERT_TRUE(later.ok() && later.value());
  EXPECT_EQ((*later)->info.key, "any-new");

  auto rep = restore_ok(*store, restore_options(d.dst, "linux-x", {"linux-", "any-"}));
  EXPECT_EQ(rep.result, RestoreResult::partial);
  EXPECT_EQ(rep.matched_key, "linux-old");
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/a.txt"), "alpha old");
}

// A tag that holds an entry annotated with another key (a tag collision) is neither a hit
// for the key nor a prefix match; a save to that key refuses to replace it.
TEST(PipelineLookup, TagCollisionWithAnotherKeyIsNoHit) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  save_ok(*store, save_options(d.src, "other", {d.src.workspace + "/cache"}));
  auto m = store->get_manifest(tag_for_key("other")).value();
  ASSERT_TRUE(m);
  ASSERT_TRUE(store->put_manifest(tag_for_key("mine"), m->bytes, m->media_type).ok());

  auto found = find_entry(*store, "mine", {"mine"}, {});
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found.value());
  auto rep = restore_ok(*store, restore_options(d.dst, "mine", {"mi"}));
  EXPECT_EQ(rep.result, RestoreResult::miss);
  EXPECT_TRUE(names_in(d.dst.workspace).empty());

  auto again = save_entry(*store, save_options(d.src, "mine", {d.src.workspace + "/cache"}));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::exists);
}

// ---------------------------------------------------------------------------------------
// Partial restores

// A path inside a root restores only that path, and leaves the destination's other files
// alone.
TEST(PipelinePartial, PathInsideARootRestoresOnlyIt) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  save_ok(*store, save_options(d.src, "k", {d.src.workspace + "/cache"}));
  write_file(d.dst.workspace + "/cache/mine.txt", "not from the cache");

  auto o = restore_options(d.dst, "k");
  o.paths = {d.dst.workspace + "/cache/sub"};
  auto rep = restore_ok(*store, o);
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_EQ(rep.files, 2u);
  EXPECT_TRUE(rep.missing_paths.empty());
  EXPECT_EQ(
      files_below(d.dst.workspace + "/cache"),
      (std::map<std::string, std::string>{{"mine.txt", "not from the cache"},
                                          {"sub/b.txt", std::string(3000, 'b')},
                                          {"sub/c.bin", std::string("\0\1\2\3 binary", 12)}}));
}

// A path naming one file of a root (or a root that is a single file) restores just that
// file; the destination's other files stay as they are.
TEST(PipelinePartial, PathNamingAFileRestoresOnlyThatFile) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  write_file(d.src.workspace + "/single.txt", "single");
  save_ok(*store,
          save_options(d.src, "k", {d.src.workspace + "/cache", d.src.workspace + "/single.txt"}));
  write_file(d.dst.workspace + "/cache/a.txt", "changed a");
  write_file(d.dst.workspace + "/cache/sub/b.txt", "changed b");

  auto o = restore_options(d.dst, "k");
  o.paths = {d.dst.workspace + "/cache/a.txt", d.dst.workspace + "/single.txt"};
  auto rep = restore_ok(*store, o);
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_EQ(rep.files, 2u);
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/a.txt"), "alpha v1");
  EXPECT_EQ(slurp(d.dst.workspace + "/single.txt"), "single");
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/sub/b.txt"), "changed b");
  EXPECT_FALSE(testing::exists_nofollow(d.dst.workspace + "/cache/other"));
}

// A restored path holding a hard link to a file outside it gets that file's content.
TEST(PipelinePartial, HardLinkToAFileOutsideThePathGetsItsContent) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  ASSERT_EQ(::link((d.src.workspace + "/cache/a.txt").c_str(),
                   (d.src.workspace + "/cache/sub/link.txt").c_str()),
            0);
  save_ok(*store, save_options(d.src, "k", {d.src.workspace + "/cache"}));

  auto o = restore_options(d.dst, "k");
  o.paths = {d.dst.workspace + "/cache/sub"};
  auto rep = restore_ok(*store, o);
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/sub/link.txt"), "alpha v1");
  EXPECT_FALSE(testing::exists_nofollow(d.dst.workspace + "/cache/a.txt"));
}

// Roots ws/build and ws/target, and in the restoring job `target -> build/sub`: the two
// destinations are one inside the other. Placing build swapped out target's staging, whose
// content was lost with a stray staging directory left in build; target is now left to
// build, which holds what the save read there.
TEST(PipelinePartial, RootsWhoseDestinationsNestAreRestoredOnce) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  write_file(d.src.workspace + "/build/sub/f", "built");
  write_file(d.src.workspace + "/build/top", "top");
  write_file(d.src.workspace + "/target/f", "built");
  save_ok(*store,
          save_options(d.src, "k", {d.src.workspace + "/build", d.src.workspace + "/target"}));
  std::filesystem::create_directories(d.dst.workspace + "/build/sub");
  ASSERT_EQ(::symlink("build/sub", (d.dst.workspace + "/target").c_str()), 0);
  auto rep = restore_ok(*store, restore_options(d.dst, "k"));
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_EQ(files_below(d.dst.workspace + "/build"),
            (std::map<std::string, std::string>{{"sub/f", "built"}, {"top", "top"}}));
  EXPECT_TRUE(std::filesystem::is_symlink(d.dst.workspace + "/target"));
}

// A path inside a root that the entry lacks, or outside every root, gives a miss that
// says why, and writes nothing.
TEST(PipelinePartial, PathTheEntryLacksIsAMissWithAReason) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  save_ok(*store, save_options(d.src, "k", {d.src.workspace + "/cache"}));

  auto inside = restore_options(d.dst, "k");
  inside.paths = {d.dst.workspace + "/cache/nothere"};
  auto rep = restore_ok(*store, inside);
  EXPECT_EQ(rep.result, RestoreResult::miss);
  EXPECT_FALSE(rep.miss_reason.empty());
  EXPECT_EQ(rep.matched_key, "k");
  EXPECT_EQ(rep.missing_paths, std::vector<std::string>{"ws/cache/nothere"});
  EXPECT_TRUE(names_in(d.dst.workspace).empty());

  auto outside = restore_options(d.dst, "k");
  outside.paths = {d.dst.workspace + "/elsewhere"};
  rep = restore_ok(*store, outside);
  EXPECT_EQ(rep.result, RestoreResult::miss);
  EXPECT_FALSE(rep.miss_reason.empty());
  EXPECT_EQ(rep.missing_paths, std::vector<std::string>{"ws/elsewhere"});
  EXPECT_TRUE(names_in(d.dst.workspace).empty());
}

// ---------------------------------------------------------------------------------------
// Verification: what a manifest claims is checked before anything is placed

// Saves "good" and stores a copy of its manifest, changed by `mutate`, under key "bad".
void craft_bad_entry(Store& store, const std::function<void(EntryInfo&)>& mutate) {
  EntryInfo info = entry_of(store, "good");
  info.key = "bad";
  mutate(info);
  auto put = store.put_manifest(tag_for_key("bad"), build_manifest(info), kOciManifest);
  ASSERT_TRUE(put.ok()) << put.error().message;
}

// The fixture of the verification tests: an entry "good", and a destination that already
// holds an older a.txt and a file of its own, which a failed restore must leave as they are.
struct VerifyFixture {
  Dirs d;
  std::unique_ptr<Store> memory = make_memory_store("memory", d.tmp.path());
  TestStore store{*memory};
  std::map<std::string, std::string> before;

  VerifyFixture() {
    make_cache(d);
    save_ok(store, save_options(d.src, "good", {d.src.workspace + "/cache"}));
    write_file(d.dst.workspace + "/cache/a.txt", "older alpha");
    write_file(d.dst.workspace + "/cache/mine.txt", "mine");
    before = files_below(d.dst.workspace);
  }

  // Restores "bad": an integrity error whose message holds `what`, nothing written.
  void expect_refused(const std::string& what) {
    auto r = restore_entry(store, restore_options(d.dst, "bad"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::integrity) << r.error().message;
    EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().message;
    EXPECT_EQ(files_below(d.dst.workspace), before);
    EXPECT_EQ(names_in(d.dst.workspace), std::set<std::string>{"cache"});  // no staging left
  }
};

// A layer whose bytes do not match its digest fails the restore.
TEST(PipelineVerify, LayerBytesNotMatchingTheDigest) {
  VerifyFixture f;
  craft_bad_entry(f.store, [](EntryInfo&) {});
  EntryInfo bad = entry_of(f.store, "bad");
  ASSERT_GT(bad.layers.size(), 1u);
  // The biggest layer (b.txt's), so that the other layers extract before it fails.
  const Descriptor* biggest = &bad.layers[0];
  for (const auto& l : bad.layers) biggest = l.size > biggest->size ? &l : biggest;
  f.store.corrupt(biggest->digest);
  f.expect_refused("does not match its digest");
}

// A layer big enough to be decompressed on a thread of its own while its digest is checked
// (kHandOffBytes in core/restore.cpp, with two cores to keep busy) restores byte for
// byte; with one byte of it changed, the restore fails on the digest and writes nothing.
TEST(PipelineVerify, BigLayerRestoresAndItsCorruptionIsRefused) {
  Dirs d;
  auto memory = make_memory_store("memory", d.tmp.path());
  TestStore store{*memory};
  std::string big(40u << 20, '\0');  // random bytes: the layer stays about as big
  std::mt19937_64 rng(42);
  for (size_t i = 0; i + 8 <= big.size(); i += 8) {
    const uint64_t v = rng();
    std::memcpy(&big[i], &v, 8);
  }
  write_file(d.src.workspace + "/cache/big.bin", big);
  write_file(d.src.workspace + "/cache/small.txt", "small");
  auto o = save_options(d.src, "big", {d.src.workspace + "/cache"});
  o.packs.reset();  // the default packing: the big file in a layer of its own
  save_ok(store, o);
  EntryInfo e = entry_of(store, "big");
  const Descriptor* biggest = &e.layers[0];
  for (const auto& l : e.layers) biggest = l.size > biggest->size ? &l : biggest;
  ASSERT_GE(biggest->size, 32u << 20);

  auto ro = restore_options(d.dst, "big");
  ro.cpu_jobs = 2;  // one big layer, two cores: it is handed off, on any machine
  auto rep = restore_ok(store, ro);
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_TRUE(slurp(d.dst.workspace + "/cache/big.bin") == big);
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/small.txt"), "small");

  Anchors again{d.tmp / "ws3", d.tmp / "home3"};
  store.corrupt(biggest->digest);
  auto bad = restore_options(again, "big");
  bad.cpu_jobs = 2;
  auto r = restore_entry(store, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::integrity) << r.error().message;
  EXPECT_NE(r.error().message.find("does not match its digest"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(files_below(again.workspace).empty());
}

// A layer whose declared size is wrong (larger or smaller) fails the restore.
TEST(PipelineVerify, LayerOfTheWrongSize) {
  VerifyFixture f;
  craft_bad_entry(f.store, [](EntryInfo& e) { e.layers.back().size += 1; });
  f.expect_refused("size does not match");
  craft_bad_entry(f.store, [](EntryInfo& e) { e.layers.back().size -= 1; });
  f.expect_refused("larger than its declared size");
}

// A config whose media type is not an image config's fails the restore.
TEST(PipelineVerify, ConfigThatIsNotAnImageConfig) {
  VerifyFixture f;
  craft_bad_entry(f.store, [](EntryInfo& e) { e.config.media_type = kOciLayerZstd; });
  f.expect_refused("not an image config");
}

// A config blob that is JSON but has no rootfs.diff_ids fails the restore.
TEST(PipelineVerify, ConfigWithoutDiffIds) {
  VerifyFixture f;
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  Descriptor c{kOciConfig, sha256_digest(config), config.size(), {}};
  ASSERT_TRUE(f.store.put_blob(c, {"", config}).ok());
  craft_bad_entry(f.store, [&](EntryInfo& e) { e.config = c; });
  f.expect_refused("diff_ids");
}

// A config listing one diff_id fewer than there are layers fails the restore.
TEST(PipelineVerify, ConfigWithADifferentNumberOfDiffIds) {
  VerifyFixture f;
  EntryInfo good = entry_of(f.store, "good");
  std::vector<LayerInfo> fewer;
  for (size_t i = 0; i + 1 < good.layers.size(); ++i)
    fewer.push_back({good.layers[i], sha256_digest("x" + std::to_string(i))});
  std::string config = build_config(fewer);
  Descriptor c{kOciConfig, sha256_digest(config), config.size(), {}};
  ASSERT_TRUE(f.store.put_blob(c, {"", config}).ok());
  craft_bad_entry(f.store, [&](EntryInfo& e) { e.config = c; });
  f.expect_refused("one diff_id per layer");
}

// A config whose bytes do not match its digest fails the restore.
TEST(PipelineVerify, ConfigNotMatchingItsDigest) {
  VerifyFixture f;
  craft_bad_entry(f.store, [](EntryInfo&) {});
  f.store.corrupt(entry_of(f.store, "bad").config.digest);
  f.expect_refused("config does not match its digest");
}

// An entry of more than 10000 layers is refused before anything is fetched.
TEST(PipelineVerify, MoreThanTenThousandLayers) {
  VerifyFixture f;
  craft_bad_entry(f.store, [](EntryInfo& e) {
    Descriptor one = e.layers.front();
    e.layers.assign(10001, one);
  });
  f.expect_refused("10001 layers");
}

// ---------------------------------------------------------------------------------------
// Base selection for save

// With --base, the unchanged layers of the base are reused: nothing uploaded for them,
// only the changed file's layer and the new config.
TEST(PipelineBase, BaseKeyReusesUnchangedLayers) {
  Dirs d;
  auto memory = make_memory_store("memory", d.tmp.path());
  TestStore store(*memory);
  make_cache(d);
  auto a = save_ok(store, save_options(d.src, "A", {d.src.workspace + "/cache"}));
  EntryInfo ea = entry_of(store, "A");

  // The same content: every layer reused, not a byte uploaded (the config is the same too).
  auto same = save_options(d.src, "A2", {d.src.workspace + "/cache"});
  same.base_key = "A";
  auto s = save_ok(store, same);
  EXPECT_EQ(s.base_key, "A");
  EXPECT_EQ(s.layers, a.layers);
  EXPECT_EQ(s.reused_layers, a.layers);
  EXPECT_EQ(s.uploaded_bytes, 0u);
  EXPECT_EQ(layer_digests(entry_of(store, "A2")), layer_digests(ea));

  // One file changed: one layer packed and uploaded, with the new config.
  write_file(d.src.workspace + "/cache/sub/b.txt", std::string(5000, 'B'));
  auto o = save_options(d.src, "B", {d.src.workspace + "/cache"});
  o.base_key = "A";
  o.deltas = DeltaLayers::never;  // packs reused, not a delta on top (test_core_delta_save)
  int blobs_before = store.put_blobs;
  auto b = save_ok(store, o);
  EntryInfo eb = entry_of(store, "B");
  EXPECT_EQ(b.base_key, "A");
  EXPECT_EQ(b.layers, a.layers);
  EXPECT_EQ(b.reused_layers, b.layers - 1);
  EXPECT_EQ(store.put_blobs - blobs_before, 2);  // the changed layer and the config
  EXPECT_EQ(b.uploaded_bytes, new_layer_bytes(eb, ea) + eb.config.size);
  EXPECT_GT(new_layer_bytes(eb, ea), 0u);

  auto rep = restore_ok(store, restore_options(d.dst, "B"));
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_EQ(files_below(d.dst.workspace + "/cache"), files_below(d.src.workspace + "/cache"));
}

// A --base key with no entry, or whose tag holds another key, gives a save of everything.
TEST(PipelineBase, MissingBaseKeySavesEverything) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  save_ok(*store, save_options(d.src, "A", {d.src.workspace + "/cache"}));
  auto o = save_options(d.src, "B", {d.src.workspace + "/cache"});
  o.base_key = "nope";
  auto b = save_ok(*store, o);
  EXPECT_EQ(b.result, SaveResult::saved);
  EXPECT_EQ(b.base_key, "");
  EXPECT_EQ(b.reused_layers, 0u);

  // "fake" is A's manifest under another tag: its annotation says "A", not "fake".
  auto m = store->get_manifest("A").value();
  ASSERT_TRUE(store->put_manifest(tag_for_key("fake"), m->bytes, m->media_type).ok());
  auto c = save_options(d.src, "C", {d.src.workspace + "/cache"});
  c.base_key = "fake";
  auto rc = save_ok(*store, c);
  EXPECT_EQ(rc.base_key, "");
  EXPECT_EQ(rc.reused_layers, 0u);
}

// A base whose config does not list one diff_id per layer is not used (the save still
// succeeds, packing everything).
TEST(PipelineBase, BaseWithABadConfigIsNotUsed) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  save_ok(*store, save_options(d.src, "good", {d.src.workspace + "/cache"}));
  std::string config = build_config({});
  Descriptor c{kOciConfig, sha256_digest(config), config.size(), {}};
  ASSERT_TRUE(store->put_blob(c, {"", config}).ok());
  craft_bad_entry(*store, [&](EntryInfo& e) { e.config = c; });

  auto o = save_options(d.src, "B", {d.src.workspace + "/cache"});
  o.base_key = "bad";
  auto b = save_ok(*store, o);
  EXPECT_EQ(b.result, SaveResult::saved);
  EXPECT_EQ(b.base_key, "");
  EXPECT_EQ(b.reused_layers, 0u);
}

// The base may be named by the manifest digest the last restore used (base_digest).
TEST(PipelineBase, BaseByDigestOfTheLastRestore) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  auto a = save_ok(*store, save_options(d.src, "A", {d.src.workspace + "/cache"}));
  auto restored = restore_ok(*store, restore_options(d.dst, "B", {"A"}));
  ASSERT_EQ(restored.matched_digest, a.digest);

  auto o = save_options(d.src, "B", {d.src.workspace + "/cache"});
  o.base_digest = restored.matched_digest;
  auto b = save_ok(*store, o);
  EXPECT_EQ(b.base_key, "A");
  EXPECT_EQ(b.reused_layers, a.layers);
  EXPECT_EQ(b.uploaded_bytes, 0u);
}

// Without --base or a restore state, the base is the newest entry matching the first
// base prefix that matches anything.
TEST(PipelineBase, BaseByPrefixIsTheNewestMatch) {
  Dirs d;
  FixedClock clock;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d, "old");
  clock.at("2024-01-01T00:00:00Z");
  save_ok(*store, save_options(d.src, "deps-old", {d.src.workspace + "/cache"}));
  make_cache(d, "new");
  clock.at("2024-06-01T00:00:00Z");
  auto newer = save_ok(*store, save_options(d.src, "deps-new", {d.src.workspace + "/cache"}));
  clock.at("2024-09-01T00:00:00Z");
  save_ok(*store, save_options(d.src, "zzz-newest", {d.src.workspace + "/cache"}));

  clock.at("2024-12-01T00:00:00Z");
  auto o = save_options(d.src, "deps-x", {d.src.workspace + "/cache"});
  o.base_prefixes = {"deps-", "zzz-"};
  auto b = save_ok(*store, o);
  EXPECT_EQ(b.base_key, "deps-new");
  EXPECT_EQ(b.reused_layers, newer.layers);
  EXPECT_EQ(b.uploaded_bytes, 0u);

  // base_key wins over the prefixes.
  auto k = save_options(d.src, "deps-y", {d.src.workspace + "/cache"});
  k.base_prefixes = {"deps-"};
  k.base_key = "deps-old";
  EXPECT_EQ(save_ok(*store, k).base_key, "deps-old");
}

// A base in another store: a memory store cannot mount blobs (link_blob is has_blob), so
// the layers are packed and uploaded again unless the store saved to holds them already.
TEST(PipelineBase, BaseInAnotherStore) {
  Dirs d;
  auto base_store = make_memory_store("base", d.tmp.path());
  auto target = make_memory_store("target", d.tmp.path());
  make_cache(d);
  auto a = save_ok(*base_store, save_options(d.src, "A", {d.src.workspace + "/cache"}));

  auto o = save_options(d.src, "B", {d.src.workspace + "/cache"});
  o.base_key = "A";
  o.base_store = base_store.get();
  auto b = save_ok(*target, o);
  EntryInfo eb = entry_of(*target, "B");
  EXPECT_EQ(b.base_key, "A");
  EXPECT_EQ(b.reused_layers, 0u);
  EXPECT_EQ(b.uploaded_bytes, new_layer_bytes(eb, EntryInfo{}) + eb.config.size);
  for (const auto& l : eb.layers) EXPECT_TRUE(target->has_blob(l).value()) << l.digest;
  EXPECT_EQ(restore_ok(*target, restore_options(d.dst, "B")).result, RestoreResult::hit);
  EXPECT_EQ(files_below(d.dst.workspace + "/cache"), files_below(d.src.workspace + "/cache"));

  // Now that the target holds the blobs, they are taken from the base without an upload.
  auto c = o;
  c.key = "C";
  auto rc = save_ok(*target, c);
  EXPECT_EQ(rc.reused_layers, a.layers);
  EXPECT_EQ(rc.uploaded_bytes, 0u);
}

// A base layer that has vanished from a store that is not a registry is found missing
// before the manifest is written (link_blob) and packed again.
TEST(PipelineBase, VanishedBaseLayerIsPackedAgain) {
  Dirs d;
  auto memory = make_memory_store("memory", d.tmp.path());
  TestStore store(*memory);
  make_cache(d);
  auto a = save_ok(store, save_options(d.src, "A", {d.src.workspace + "/cache"}));
  EntryInfo ea = entry_of(store, "A");
  const Descriptor gone = ea.layers.back();
  store.hide(gone.digest);

  auto o = save_options(d.src, "B", {d.src.workspace + "/cache"});
  o.base_key = "A";
  int manifests_before = store.put_manifests;
  auto b = save_ok(store, o);
  EXPECT_EQ(b.reused_layers, a.layers - 1);
  EXPECT_EQ(b.uploaded_bytes, gone.size);
  EXPECT_EQ(store.put_manifests - manifests_before, 1);
  EXPECT_FALSE(store.is_hidden(gone.digest));
  EXPECT_EQ(restore_ok(store, restore_options(d.dst, "B")).result, RestoreResult::hit);
  EXPECT_EQ(files_below(d.dst.workspace + "/cache"), files_below(d.src.workspace + "/cache"));
}

// ---------------------------------------------------------------------------------------
// Trust rules

// SaveOptions.origin is recorded in the entry (ref and commit).
TEST(PipelineTrust, OriginIsRecorded) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d);
  auto o = save_options(d.src, "k", {d.src.workspace + "/cache"});
  o.origin = {"refs/heads/main", std::string(40, 'c')};
  save_ok(*store, o);
  EntryInfo e = entry_of(*store, "k");
  EXPECT_EQ(e.ref, "refs/heads/main");
  EXPECT_EQ(e.commit, std::string(40, 'c'));
}

// With trust = refs/heads/main, an entry saved from a pull request is not restored (a
// miss, also by prefix: an older trusted entry is taken instead) and is not a save's base.
TEST(PipelineTrust, UntrustedEntryIsSkippedByRestoreAndSave) {
  Dirs d;
  FixedClock clock;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d, "main");
  auto main_opts = save_options(d.src, "deps-main", {d.src.workspace + "/cache"});
  main_opts.origin.ref = "refs/heads/main";
  clock.at("2024-01-01T00:00:00Z");
  save_ok(*store, main_opts);
  make_cache(d, "pr");
  auto pr_opts = save_options(d.src, "deps-pr", {d.src.workspace + "/cache"});
  pr_opts.origin.ref = "refs/pull/1/merge";
  clock.at("2024-02-01T00:00:00Z");
  auto pr = save_ok(*store, pr_opts);
  const std::vector<std::string> trust = {"refs/heads/main"};

  auto untrusted = restore_options(d.dst, "deps-pr");
  untrusted.filter.trust = trust;
  EXPECT_EQ(restore_ok(*store, untrusted).result, RestoreResult::miss);
  EXPECT_TRUE(names_in(d.dst.workspace).empty());
  // Without trust patterns every entry counts.
  EXPECT_EQ(restore_ok(*store, restore_options(d.dst, "deps-pr")).result, RestoreResult::hit);

  auto by_prefix = restore_options(d.dst, "deps-pr", {"deps-"});
  by_prefix.filter.trust = trust;
  auto rep = restore_ok(*store, by_prefix);
  EXPECT_EQ(rep.result, RestoreResult::partial);
  EXPECT_EQ(rep.matched_key, "deps-main");
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/a.txt"), "alpha main");

  clock.at("2024-03-01T00:00:00Z");
  auto o = save_options(d.src, "next", {d.src.workspace + "/cache"});
  o.base_key = "deps-pr";
  o.filter.trust = trust;
  auto b = save_ok(*store, o);
  EXPECT_EQ(b.base_key, "");
  EXPECT_EQ(b.reused_layers, 0u);
  // The same save without trust patterns reuses the pull request's layers.
  auto again = o;
  again.key = "next-untrusting";
  again.filter.trust.clear();
  auto c = save_ok(*store, again);
  EXPECT_EQ(c.base_key, "deps-pr");
  EXPECT_EQ(c.reused_layers, pr.layers);
}

// An existing entry from an untrusted ref does not make a save "exists": it is replaced.
TEST(PipelineTrust, UntrustedExistingEntryIsReplaced) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  make_cache(d, "pr");
  auto pr = save_options(d.src, "k", {d.src.workspace + "/cache"});
  pr.origin.ref = "refs/pull/1/merge";
  auto first = save_ok(*store, pr);

  make_cache(d, "main");
  auto main_opts = save_options(d.src, "k", {d.src.workspace + "/cache"});
  main_opts.origin.ref = "refs/heads/main";
  main_opts.filter.trust = {"refs/heads/main"};
  auto second = save_ok(*store, main_opts);
  EXPECT_EQ(second.result, SaveResult::saved);
  EXPECT_NE(second.digest, first.digest);
  EXPECT_EQ(entry_of(*store, "k").ref, "refs/heads/main");
}

// ---------------------------------------------------------------------------------------
// Exists short-circuit

// A second save of a stored key is "exists" and writes nothing, even if the files
// changed; Overwrite::yes replaces the entry.
TEST(PipelineExists, SecondSaveIsExistsAndOverwriteReplaces) {
  Dirs d;
  auto memory = make_memory_store("memory", d.tmp.path());
  TestStore store(*memory);
  make_cache(d, "1");
  auto first = save_ok(store, save_options(d.src, "k", {d.src.workspace + "/cache"}));
  EXPECT_EQ(first.result, SaveResult::saved);
  EXPECT_GT(first.uploaded_bytes, 0u);

  make_cache(d, "2");
  int blobs = store.put_blobs, manifests = store.put_manifests;
  auto second = save_ok(store, save_options(d.src, "k", {d.src.workspace + "/cache"}));
  EXPECT_EQ(second.result, SaveResult::exists);
  EXPECT_EQ(second.digest, first.digest);
  EXPECT_EQ(second.uploaded_bytes, 0u);
  EXPECT_EQ(second.files, first.files);
  EXPECT_EQ(store.put_blobs, blobs);
  EXPECT_EQ(store.put_manifests, manifests);
  restore_ok(store, restore_options(d.dst, "k"));
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/a.txt"), "alpha 1");

  auto o = save_options(d.src, "k", {d.src.workspace + "/cache"});
  o.overwrite = Overwrite::yes;
  auto third = save_ok(store, o);
  EXPECT_EQ(third.result, SaveResult::saved);
  EXPECT_NE(third.digest, first.digest);
  EXPECT_GT(third.uploaded_bytes, 0u);
  EXPECT_EQ(store.list_tags().value(), std::vector<std::string>{"k"});
  auto rep = restore_ok(store, restore_options(d.dst, "k"));
  EXPECT_EQ(rep.matched_digest, third.digest);
  EXPECT_EQ(slurp(d.dst.workspace + "/cache/a.txt"), "alpha 2");
}

// In a store that takes any manifest (a layout), an entry that lost a blob (a restore removed
// a damaged copy) is saved again without --force; a registry, which refuses such manifests,
// is asked about no blob on the way to "exists".
TEST(PipelineExists, AnEntryMissingABlobIsSavedAgain) {
  Dirs d;
  auto memory = make_memory_store("memory", d.tmp.path());
  TestStore store(*memory);
  make_cache(d);
  auto first = save_ok(store, save_options(d.src, "k", {d.src.workspace + "/cache"}));
  const Descriptor gone = entry_of(store, "k").layers.at(0);
  store.hide(gone.digest);
  auto second = save_ok(store, save_options(d.src, "k", {d.src.workspace + "/cache"}));
  EXPECT_EQ(second.result, SaveResult::saved);
  EXPECT_FALSE(store.is_hidden(gone.digest));  // written again
  auto rep = restore_ok(store, restore_options(d.dst, "k"));
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_EQ(files_below(d.dst.workspace + "/cache"), files_below(d.src.workspace + "/cache"));

  TestStore repo(*memory, "host/repo");
  int heads = repo.has_blobs;
  auto third = save_ok(repo, save_options(d.src, "k", {d.src.workspace + "/cache"}));
  EXPECT_EQ(third.result, SaveResult::exists);
  EXPECT_EQ(repo.has_blobs, heads);
}

// ---------------------------------------------------------------------------------------
// Manifest repair

// In a registry repository the base's layers are reused without a HEAD each; when one has
// vanished, the manifest PUT fails with not_found, the save checks the reused layers,
// packs the missing one again and writes the manifest once more.
TEST(PipelineRepair, MissingBaseBlobIsPackedAgainAfterTheManifestIsRefused) {
  Dirs d;
  auto memory = make_memory_store("memory", d.tmp.path());
  TestStore store(*memory, "host/repo");
  make_cache(d);
  auto a = save_ok(store, save_options(d.src, "A", {d.src.workspace + "/cache"}));
  EntryInfo ea = entry_of(store, "A");
  // The layer of a.txt, which B leaves unchanged (B changes b.txt only).
  ASSERT_GE(ea.layers.size(), 2u);
  const Descriptor gone = ea.layers[1];
  store.hide(gone.digest);
  write_file(d.src.workspace + "/cache/sub/b.txt", std::string(4000, 'x'));

  auto o = save_options(d.src, "B", {d.src.workspace + "/cache"});
  o.base_key = "A";
  o.deltas = DeltaLayers::never;  // the packs' repair (a delta's: test_core_delta_save)
  int manifests = store.put_manifests;
  auto b = save_ok(store, o);
  ASSERT_EQ(b.result, SaveResult::saved);
  EntryInfo eb = entry_of(store, "B");
  EXPECT_EQ(b.base_key, "A");
  EXPECT_EQ(store.put_manifests - manifests, 2);  // refused once, then written
  EXPECT_FALSE(store.is_hidden(gone.digest));     // uploaded again
  EXPECT_TRUE(layer_digests(eb).count(gone.digest));
  EXPECT_EQ(b.reused_layers, a.layers - 2);  // neither b.txt's layer nor the vanished one
  EXPECT_EQ(b.uploaded_bytes, new_layer_bytes(eb, ea) + gone.size + eb.config.size);
  EXPECT_GT(b.uploaded_bytes, 0u);

  auto rep = restore_ok(store, restore_options(d.dst, "B"));
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_EQ(files_below(d.dst.workspace + "/cache"), files_below(d.src.workspace + "/cache"));
}

// An unchanged tree saved with a base in the same repository asks about no blob: its
// layers are the base's (the manifest PUT checks them) and so is its config, just read.
TEST(PipelineRepair, UnchangedSaveOnABaseChecksNoBlob) {
  Dirs d;
  auto memory = make_memory_store("memory", d.tmp.path());
  TestStore store(*memory, "host/repo");
  make_cache(d);
  save_ok(store, save_options(d.src, "A", {d.src.workspace + "/cache"}));
  auto o = save_options(d.src, "A2", {d.src.workspace + "/cache"});
  o.base_key = "A";
  int heads = store.has_blobs, blobs = store.put_blobs;
  auto s = save_ok(store, o);
  EXPECT_EQ(s.result, SaveResult::saved);
  EXPECT_EQ(s.uploaded_bytes, 0u);
  EXPECT_EQ(store.has_blobs - heads, 0);
  EXPECT_EQ(store.put_blobs - blobs, 0);
  EXPECT_EQ(entry_of(store, "A2").config.digest, entry_of(store, "A").config.digest);
}

// ---------------------------------------------------------------------------------------
// Empty saves

// Paths holding no regular file save nothing ("empty", no tag); EmptySave::keep saves an
// empty entry, which restores the directories.
TEST(PipelineEmpty, NoRegularFileSavesNothingUnlessKept) {
  Dirs d;
  auto store = make_memory_store("memory", d.tmp.path());
  std::filesystem::create_directories(d.src.workspace + "/empty/sub/deeper");
  ASSERT_EQ(::symlink("nowhere", (d.src.workspace + "/empty/link").c_str()), 0);

  auto o = save_options(d.src, "e", {d.src.workspace + "/empty"});
  auto skipped = save_ok(*store, o);
  EXPECT_EQ(skipped.result, SaveResult::empty);
  EXPECT_TRUE(store->list_tags().value().empty());
  EXPECT_FALSE(store->get_manifest(tag_for_key("e")).value());

  o.empty = EmptySave::keep;
  auto kept = save_ok(*store, o);
  EXPECT_EQ(kept.result, SaveResult::saved);
  EXPECT_EQ(kept.files, 0u);
  EXPECT_EQ(store->list_tags().value(), std::vector<std::string>{"e"});
  auto rep = restore_ok(*store, restore_options(d.dst, "e"));
  EXPECT_EQ(rep.result, RestoreResult::hit);
  EXPECT_TRUE(std::filesystem::is_directory(d.dst.workspace + "/empty/sub/deeper"));
  EXPECT_TRUE(testing::exists_nofollow(d.dst.workspace + "/empty/link"));
}

}  // namespace
}  // namespace regcache
