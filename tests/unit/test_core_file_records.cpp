// File records: a save takes the print of a file whose stat stamp has not changed since it
// was recorded instead of reading it; a changed size, inode or mode, a file changed just
// before the walk, and a damaged or foreign record all mean reading the file. Saves through
// records give the same entries as saves that read everything.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "hiding_store.hpp"
#include "regcache/core/file_records.hpp"
#include "regcache/core/restore.hpp"
#include "regcache/core/save.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "regcache/util/walk.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

// A tree, its walk and the prints a full read gives.
struct Tree {
  TempDir tmp;
  std::string root = tmp / "t";
  FileRecordPlace place{tmp / "records", std::chrono::seconds(0)};
  std::vector<FileEntry> entries;
  std::vector<EntryPrint> prints;

  Tree() {
    for (int i = 0; i < 6; ++i)
      write_file(root + "/d" + std::to_string(i % 2) + "/f" + std::to_string(i),
                 std::string(100 + i, 'a' + i));
    ::symlink("d0/f0", (root + "/link").c_str());
    walk();
  }
  void walk() {
    entries = walk_tree(root, "ws/t", nullptr).value();
    prints.assign(entries.size(), {});
    Pack all;
    for (size_t i = 0; i < entries.size(); ++i) all.entries.push_back(i);
    EXPECT_TRUE(pack_fingerprint(entries, all, &prints).ok());
  }
  void record(TimePoint walked_at = std::chrono::system_clock::now()) {
    record_prints(place, entries, prints, walked_at);
  }
  // Returns which entries the records give, and checks their prints against a full read.
  std::vector<std::string> recalled() {
    std::vector<EntryPrint> got(entries.size());
    std::vector<char> known(entries.size(), 0);
    size_t n = recall_prints(place, entries, got, known);
    std::vector<std::string> out;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!known[i]) continue;
      EXPECT_EQ(got[i].hash, prints[i].hash) << entries[i].path;
      EXPECT_EQ(got[i].bytes, prints[i].bytes) << entries[i].path;
      out.push_back(entries[i].path);
    }
    EXPECT_EQ(n, out.size());
    return out;
  }
  std::vector<std::string> regular() const {
    std::vector<std::string> out;
    for (const auto& e : entries)
      if (e.type == FileType::regular) out.push_back(e.path);
    return out;
  }
  std::string record_file() const {
    for (const auto& f : fs::directory_iterator(place.dir)) return f.path().string();
    return "";
  }
};

TEST(FileRecords, RecallsThePrintsOfUnchangedRegularFiles) {
  Tree t;
  EXPECT_TRUE(t.recalled().empty());  // nothing recorded yet
  t.record();
  EXPECT_EQ(t.recalled(), t.regular());
  EXPECT_EQ(t.regular().size(), 6u);
  t.walk();  // a new walk of the same files
  EXPECT_EQ(t.recalled(), t.regular());
}

TEST(FileRecords, EveryFieldOfTheStampCounts) {
  Tree t;
  t.record();
  const std::vector<std::string> all = t.regular();
  // One field at a time, on entry d0/f0 (the walk itself is left as it was).
  auto at = std::find_if(t.entries.begin(), t.entries.end(),
                         [](const FileEntry& e) { return e.path == "ws/t/d0/f0"; });
  ASSERT_NE(at, t.entries.end());
  const FileEntry kept = *at;
  std::vector<std::string> rest(all.begin() + 1, all.end());
  ASSERT_EQ(all.front(), "ws/t/d0/f0");
  for (int field = 0; field < 8; ++field) {
    *at = kept;
    switch (field) {
      case 0:
        ++at->dev;
        break;
      case 1:
        ++at->ino;
        break;
      case 2:
        ++at->size;
        break;
      case 3:
        at->mode ^= 0100;
        break;
      case 4:
        ++at->mtime_sec;
        break;
      case 5:
        at->mtime_nsec ^= 1;
        break;
      case 6:
        ++at->ctime_sec;
        break;
      case 7:
        at->ctime_nsec ^= 1;
        break;
    }
    EXPECT_EQ(t.recalled(), rest) << "field " << field;
  }
  *at = kept;
  EXPECT_EQ(t.recalled(), all);
}

TEST(FileRecords, AFileWithAnotherSizeInodeOrModeIsReadAgain) {
  Tree t;
  t.record();
  std::ofstream(t.root + "/d0/f0", std::ios::app) << "more";  // size
  write_file(t.root + "/d1/f1.new", std::string(101, 'b'));   // same size and content,
  fs::rename(t.root + "/d1/f1.new", t.root + "/d1/f1");       // another inode
  ::chmod((t.root + "/d0/f2").c_str(), 0600);                 // mode
  t.walk();
  EXPECT_EQ(t.recalled(), (std::vector<std::string>{"ws/t/d0/f4", "ws/t/d1/f3", "ws/t/d1/f5"}));
}

TEST(FileRecords, FilesChangedJustBeforeTheWalkAreNotRecorded) {
  Tree t;
  t.place.racy_margin = std::chrono::seconds(2);
  // A walk that began 1 s after the files' last change (whenever the test gets to run):
  // a change in the same clock tick could hide, so none is recorded.
  int64_t newest = 0;
  for (const auto& e : t.entries) newest = std::max(newest, e.ctime_sec);
  const TimePoint changed{std::chrono::seconds(newest + 1)};
  t.record(changed + std::chrono::seconds(1));
  EXPECT_TRUE(t.recalled().empty());
  t.record(changed + std::chrono::seconds(5));  // 2 s past the margin
  EXPECT_EQ(t.recalled(), t.regular());
}

TEST(FileRecords, ADamagedOrForeignRecordCountsAsNone) {
  Tree t;
  t.record();
  const std::string file = t.record_file();
  const std::string good = slurp(file);
  std::string bad = good;
  bad[bad.size() / 2] ^= 1;
  write_file(file, bad);
  EXPECT_TRUE(t.recalled().empty());
  write_file(file, good.substr(0, good.size() - 9));
  EXPECT_TRUE(t.recalled().empty());
  write_file(file, "");
  EXPECT_TRUE(t.recalled().empty());
  write_file(file, good);
  EXPECT_EQ(t.recalled(), t.regular());

  // Another root's record under this root's name is not taken.
  Tree other;
  other.place = t.place;
  fs::remove(file);
  other.record();
  fs::rename(other.record_file(), file);
  EXPECT_TRUE(t.recalled().empty());
}

TEST(FileRecords, KeepsTheRecordsUsedOrWrittenLast) {
  TempDir tmp;
  FileRecordPlace place{tmp / "records", std::chrono::seconds(0)};
  write_file(tmp / "src/f", "x");
  auto names = [&] {
    std::set<std::string> out;
    if (fs::exists(place.dir))
      for (const auto& f : fs::directory_iterator(place.dir)) out.insert(f.path().filename());
    return out;
  };
  auto root = [&](size_t i) {
    return walk_tree(tmp / "src", "ws/r" + std::to_string(i), nullptr).value();
  };
  std::vector<std::string> record_of;  // root i's record file
  for (size_t i = 0; i < kMaxFileRecords + 3; ++i) {
    auto before = names();
    auto entries = root(i);
    record_prints(place, entries, std::vector<EntryPrint>(entries.size()),
                  std::chrono::system_clock::now());
    std::string made;
    for (const auto& n : names())
      if (!before.count(n)) made = n;
    ASSERT_FALSE(made.empty()) << i;
    record_of.push_back(made);
    // Distinct times, oldest first, whatever the clock's resolution.
    timespec ts[2] = {{1'000'000'000 + static_cast<time_t>(i), 0},
                      {1'000'000'000 + static_cast<time_t>(i), 0}};
    ::utimensat(AT_FDCWD, (place.dir + "/" + made).c_str(), ts, 0);
    if (i == 1) {  // root 0 is used: it becomes the newest then
      auto again = root(0);
      std::vector<EntryPrint> got(again.size());
      std::vector<char> known(again.size(), 0);
      EXPECT_EQ(recall_prints(place, again, got, known), 1u);
    }
  }
  auto left = names();
  EXPECT_EQ(left.size(), kMaxFileRecords);
  EXPECT_TRUE(left.count(record_of[0])) << "used after it was written";
  EXPECT_FALSE(left.count(record_of[1]));
  EXPECT_FALSE(left.count(record_of[2]));
  EXPECT_FALSE(left.count(record_of[3]));
  EXPECT_TRUE(left.count(record_of[4]));
  EXPECT_TRUE(left.count(record_of.back()));
}

TEST(FileRecords, RecordsInADirectoryOthersMayWriteAreIgnored) {
  Tree t;
  t.record();
  ::chmod(t.place.dir.c_str(), 0777);
  EXPECT_TRUE(t.recalled().empty());
  ::chmod(t.place.dir.c_str(), 0755);
  EXPECT_EQ(t.recalled(), t.regular());
}

TEST(FileRecords, NoDirectoryMeansNoRecords) {
  Tree t;
  t.place.dir = "";
  t.record();
  EXPECT_TRUE(t.recalled().empty());
  EXPECT_FALSE(fs::exists(t.tmp / "records"));
}

// Saves through records: the second save of an unchanged tree reads no file and makes the
// same entry; a changed file is read and its new content saved.
struct RecordedSaves {
  TempDir tmp;
  Anchors src{tmp / "ws", tmp / "home"};
  std::unique_ptr<Store> memory = make_memory_store("memory", tmp.path());
  TestStore store{*memory};
  std::string cache = src.workspace + "/cache";
  int saves = 0;

  RecordedSaves() {
    for (int i = 0; i < 20; ++i)
      write_file(cache + "/p" + std::to_string(i % 4) + "/f" + std::to_string(i),
                 std::string(3000 + i, 'a' + i));
  }
  SaveReport save(DeltaLayers deltas = DeltaLayers::allowed) {
    SaveOptions o;
    o.deltas = deltas;
    o.key = "k" + std::to_string(++saves);
    if (saves > 1) o.base_key = "k" + std::to_string(saves - 1);
    o.paths = {cache};
    o.anchors = src;
    o.packs = packs_around(16 << 10);
    o.records = {tmp / "records", std::chrono::seconds(0)};
    auto r = save_entry(store, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : SaveReport{};
  }
  std::string restored(int n, const std::string& rel) {
    TempDir dst;
    RestoreOptions o;
    o.key = "k" + std::to_string(n);
    o.anchors = {dst / "ws", dst / "home"};
    auto r = restore_entry(store, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return slurp(dst / ("ws/cache/" + rel));
  }
};

TEST(FileRecords, AnUnchangedSaveReadsNoFileAndReusesEveryLayer) {
  RecordedSaves t;
  auto first = t.save();
  EXPECT_EQ(first.unread_files, 0u);
  auto second = t.save();
  EXPECT_EQ(second.unread_files, 20u);
  EXPECT_EQ(second.reused_layers, first.layers);
  EXPECT_EQ(second.layers, first.layers);
  EXPECT_EQ(second.uploaded_bytes, 0u);
  EXPECT_EQ(t.restored(2, "p1/f5"), std::string(3005, 'a' + 5));
}

TEST(FileRecords, ABaseWithoutAFileListIsComparedThroughRecordsToo) {
  RecordedSaves t;
  t.save(DeltaLayers::never);
  auto second = t.save(DeltaLayers::never);  // packs fingerprinted one by one
  EXPECT_EQ(second.unread_files, 20u);
  EXPECT_EQ(second.reused_layers, second.layers);
  write_file(t.cache + "/p0/f16", "changed");  // between others of its pack
  auto third = t.save(DeltaLayers::never);
  // The pack holding the changed file is compressed: its files count as read.
  EXPECT_LT(third.unread_files, 19u);
  EXPECT_GT(third.unread_files, 0u);
  EXPECT_EQ(t.restored(3, "p0/f16"), "changed");
  EXPECT_EQ(t.save(DeltaLayers::never).unread_files, 20u);  // recorded again
}

TEST(FileRecords, AChangedFileIsReadAndItsNewContentSaved) {
  RecordedSaves t;
  t.save();
  write_file(t.cache + "/p1/f9", "changed");
  auto second = t.save();
  EXPECT_EQ(second.unread_files, 19u);
  EXPECT_EQ(t.restored(2, "p1/f9"), "changed");
  EXPECT_EQ(t.restored(2, "p2/f10"), std::string(3010, 'a' + 10));
  auto third = t.save();  // the changed file was recorded by the second save
  EXPECT_EQ(third.unread_files, 20u);
  EXPECT_EQ(third.uploaded_bytes, 0u);
}

}  // namespace
}  // namespace regcache
