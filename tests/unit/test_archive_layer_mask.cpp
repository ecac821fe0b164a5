// The layer mask: which entries of a lower layer the delta layers above it hide (OCI
// whiteouts, opaque directories, replaced paths), and the checks on the whiteouts a delta
// layer may hold.
#include <gtest/gtest.h>

#include "raw_tar.hpp"
#include "regcache/archive/layer_mask.hpp"
#include "regcache/archive/tar_reader.hpp"

using namespace regcache;
using regcache::testing::RawTar;

namespace {

// Scans a delta layer's tar against the root "ws/cache".
Result<std::vector<std::pair<std::string, int>>> scan(const RawTar& tar) {
  LayerScan::Budget budget;
  LayerScan s({"ws/cache"}, &budget);
  TarReader reader(&s);
  std::string bytes = tar.bytes();
  RC_CHECK(reader.write(bytes.data(), bytes.size()));
  RC_CHECK(reader.finish());
  return s.marks();
}

LayerMask mask_of(size_t layer, const RawTar& tar) {
  auto marks = scan(tar);
  EXPECT_TRUE(marks.ok()) << marks.error().message;
  LayerMask m;
  if (marks.ok()) {
    EXPECT_TRUE(m.add(layer, marks.value()).ok());
  }
  return m;
}

void expect_refused(const RawTar& tar, const std::string& words) {
  auto r = scan(tar);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::hostile);
  EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
}

}  // namespace

TEST(Whiteout, NamesAreReadAsTheOciImageSpecWritesThem) {
  auto plain = whiteout_of("ws/cache/file");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain.value());
  auto removed = whiteout_of("ws/cache/.wh.file");
  ASSERT_TRUE(removed.ok() && removed.value());
  EXPECT_EQ(removed.value()->kind, Whiteout::Kind::remove);
  EXPECT_EQ(removed.value()->target, "ws/cache/file");
  auto opaque = whiteout_of("ws/cache/dir/.wh..wh..opq");
  ASSERT_TRUE(opaque.ok() && opaque.value());
  EXPECT_EQ(opaque.value()->kind, Whiteout::Kind::opaque);
  EXPECT_EQ(opaque.value()->target, "ws/cache/dir");
  for (const char* bad : {"ws/.wh.", "ws/.wh..", "ws/.wh...", "ws/.wh..wh.plnk"})
    EXPECT_FALSE(whiteout_of(bad).ok()) << bad;
}

TEST(LayerMask, AFileAboveHidesTheSamePathAndEverythingUnderIt) {
  LayerMask m = mask_of(2, RawTar().add("ws/cache/a", '0', "new"));
  EXPECT_EQ(m.visibility(0, "ws/cache/a", false), Visibility::hidden);
  EXPECT_EQ(m.visibility(0, "ws/cache/a", true), Visibility::hidden);
  EXPECT_EQ(m.visibility(0, "ws/cache/a/inner", false), Visibility::hidden);
  EXPECT_EQ(m.visibility(0, "ws/cache/b", false), Visibility::shown);
  EXPECT_EQ(m.visibility(2, "ws/cache/a", false), Visibility::shown);  // its own
  EXPECT_EQ(m.visibility(3, "ws/cache/a", false), Visibility::shown);  // above it
  EXPECT_TRUE(m.holds_file(2, "ws/cache/a"));
  EXPECT_FALSE(m.holds_file(1, "ws/cache/a"));
}

TEST(LayerMask, DirectoriesMergeAndTheUpperOneStatesTheMetadata) {
  LayerMask m = mask_of(1, RawTar().add("ws/cache/d/", '5').add("ws/cache/e/f", '0', "x"));
  EXPECT_EQ(m.visibility(0, "ws/cache/d", true), Visibility::merged_dir);
  EXPECT_EQ(m.visibility(0, "ws/cache/d/old", false), Visibility::shown);
  // ws/cache/e is a directory only by implication: the lower one keeps its metadata.
  EXPECT_EQ(m.visibility(0, "ws/cache/e", true), Visibility::shown);
  EXPECT_EQ(m.visibility(0, "ws/cache/e/g", false), Visibility::shown);
  // A directory above, stated or implied, replaces a file below.
  EXPECT_EQ(m.visibility(0, "ws/cache/d", false), Visibility::hidden);
  EXPECT_EQ(m.visibility(0, "ws/cache/e", false), Visibility::hidden);
}

TEST(LayerMask, WhiteoutsAndOpaqueDirectoriesHideOnlyWhatLiesBelow) {
  LayerMask m = mask_of(1, RawTar()
                               .add("ws/cache/.wh.gone", '0')
                               .add("ws/cache/o/", '5')
                               .add("ws/cache/o/.wh..wh..opq", '0')
                               .add("ws/cache/o/kept", '0', "k"));
  EXPECT_EQ(m.visibility(0, "ws/cache/gone", false), Visibility::hidden);
  EXPECT_EQ(m.visibility(0, "ws/cache/gone", true), Visibility::hidden);
  EXPECT_EQ(m.visibility(0, "ws/cache/gone/deep/file", false), Visibility::hidden);
  EXPECT_EQ(m.visibility(0, "ws/cache/gonex", false), Visibility::shown);
  EXPECT_EQ(m.visibility(0, "ws/cache/o", true), Visibility::merged_dir);
  EXPECT_EQ(m.visibility(0, "ws/cache/o/old", false), Visibility::hidden);
  EXPECT_EQ(m.visibility(1, "ws/cache/o/kept", false), Visibility::shown);
  EXPECT_EQ(m.visibility(2, "ws/cache/gone", false), Visibility::shown);  // re-added above
}

TEST(LayerMask, LayersStackInTheirOrder) {
  LayerMask m;
  auto low = scan(RawTar().add("ws/cache/x", '0', "1"));
  auto high = scan(RawTar().add("ws/cache/.wh.x", '0'));
  ASSERT_TRUE(low.ok() && high.ok());
  ASSERT_TRUE(m.add(5, high.value()).ok());  // added in any order
  ASSERT_TRUE(m.add(3, low.value()).ok());
  EXPECT_EQ(m.visibility(0, "ws/cache/x", false), Visibility::hidden);
  EXPECT_EQ(m.visibility(3, "ws/cache/x", false), Visibility::hidden);  // removed by 5
  EXPECT_EQ(m.visibility(4, "ws/cache/x", false), Visibility::hidden);
  EXPECT_EQ(m.visibility(5, "ws/cache/x", false), Visibility::shown);
}

// A path's cost in the mask is its length: a path of thousands of components is refused,
// not stored once per ancestor.
TEST(LayerMask, RefusesPathsDeeperThanItsBound) {
  std::string deep = "ws/cache";
  for (size_t i = 0; i < LayerMask::kMaxDepth; ++i) deep += "/a";
  LayerMask m;
  auto st = m.add(1, {{deep, LayerMask::file}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::hostile);
  EXPECT_NE(st.error().message.find("deeper than"), std::string::npos);
  LayerMask ok;
  ASSERT_TRUE(ok.add(1, {{deep.substr(0, deep.size() - 4), LayerMask::file}}).ok());
  EXPECT_EQ(ok.visibility(0, deep.substr(0, deep.size() - 4), false), Visibility::hidden);
  EXPECT_EQ(ok.visibility(0, deep, false), Visibility::hidden);  // below a file above
}

TEST(LayerScan, RefusesWhiteoutsOfARootOrOutsideTheRoots) {
  expect_refused(RawTar().add("ws/.wh.cache", '0'), "outside the cache roots");
  expect_refused(RawTar().add("ws/other/.wh.x", '0'), "outside the cache roots");
  expect_refused(RawTar().add(".wh.ws", '0'), "outside the cache roots");
  expect_refused(RawTar().add("ws/.wh..wh..opq", '0'), "outside the cache roots");
  // An opaque root is fine: it hides what the lower layers hold there, nothing of the job's.
  EXPECT_TRUE(scan(RawTar().add("ws/cache/.wh..wh..opq", '0')).ok());
}

TEST(LayerScan, RefusesWhiteoutsThatAreNotEmptyFilesAndMalformedOnes) {
  expect_refused(RawTar().add("ws/cache/.wh.x", '0', "content"), "not an empty file");
  expect_refused(RawTar().add("ws/cache/.wh.x", '2', "", "/etc/passwd"), "not an empty file");
  expect_refused(RawTar().add("ws/cache/.wh.x/", '5'), "not an empty file");
  expect_refused(RawTar().add("ws/cache/.wh..wh.plnk", '0'), "malformed whiteout");
  expect_refused(RawTar().add("ws/cache/.wh..", '0'), "malformed whiteout");
  expect_refused(RawTar().add("ws/cache/../../.wh.x", '0'), "unsafe path");
}

TEST(LayerScan, ASparseFileOfAnySizeIsScannedWithoutItsHoles) {
  // A file of 2^63 - 1 bytes, all hole: its map alone ("0 segments"). Fed as zeros, the
  // scan would run for days; it only needs the path.
  std::string map = "0\n";
  map.resize(512, '\0');
  RawTar tar;
  tar.add_pax({{"GNU.sparse.major", "1"},
               {"GNU.sparse.minor", "0"},
               {"GNU.sparse.name", "ws/cache/huge"},
               {"GNU.sparse.realsize", "9223372036854775807"}})
      .add("ws/cache/GNUSparseFile.0/huge", '0', map);
  auto marks = scan(tar);
  ASSERT_TRUE(marks.ok()) << marks.error().message;
  ASSERT_EQ(marks->size(), 1u);
  EXPECT_EQ(marks->front().first, "ws/cache/huge");
  EXPECT_EQ(marks->front().second, LayerMask::file);
}

TEST(LayerScan, AWhiteoutOfANameAsLongAsAFileSystemTakesIsAccepted) {
  // ".wh." and 255 bytes: longer than any name on disk, but a whiteout is never written.
  auto marks = scan(RawTar().add_long("ws/cache/.wh." + std::string(255, 'n'), '0'));
  ASSERT_TRUE(marks.ok()) << marks.error().message;
  ASSERT_EQ(marks->size(), 1u);
  EXPECT_EQ(marks->front().first, "ws/cache/" + std::string(255, 'n'));
  expect_refused(RawTar().add_long("ws/cache/.wh." + std::string(256, 'n'), '0'), "unsafe path");
}
