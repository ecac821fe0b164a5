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
#include "regcache/format/entry_format.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "regcache/util/walk.hpp"
#include "save_workspace.hpp"
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
        at->ctime_ns += 1'000'000'000;
        break;
      case 7:
        at->ctime_ns ^= 1;
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
  for (const auto& e : t.entries) newest = std::max(newest, e.ctime_ns / 1'000'000'000);
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
struct RecordedSaves : SaveWorkspace {
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
  // Restores entry n into `into` (keeping file records there too).
  void restore_into(int n, const Anchors& into, uint32_t mode_mask = 0) {
    RestoreOptions o;
    o.key = "k" + std::to_string(n);
    o.anchors = into;
    o.mode_mask = mode_mask;
    o.records = {tmp / "records", std::chrono::seconds(0)};
    auto r = restore_entry(store, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  // Saves the tree restored at `from` on entry `base`, with or without the records.
  SaveReport save_restored(const Anchors& from, int base, const std::string& key,
                           const std::string& records) {
    SaveOptions o;
    o.key = key;
    o.base_key = "k" + std::to_string(base);
    o.paths = {from.workspace + "/cache"};
    o.anchors = from;
    o.packs = packs_around(16 << 10);
    o.records = {records, std::chrono::seconds(0)};
    auto r = save_entry(store, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : SaveReport{};
  }
  std::vector<std::string> layer_digests(const std::string& key) {
    auto m = store.get_manifest(tag_for_key(key));
    EXPECT_TRUE(m.ok() && m.value());
    std::vector<std::string> out;
    auto info = parse_manifest(m.value()->bytes);
    EXPECT_TRUE(info.ok());
    for (const auto& l : info.value().layers) out.push_back(l.digest);
    return out;
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

namespace regcache {
namespace {

// A restore records the files it writes: the save at the end of the job reads only what
// the build changed, and makes the same entry as a save that reads everything.
TEST(RestoredRecords, TheSaveAfterARestoreReadsOnlyWhatChanged) {
  RecordedSaves t;
  t.save();
  TempDir dst;
  Anchors there{dst / "ws", dst / "home"};
  t.restore_into(1, there);
  auto same = t.save_restored(there, 1, "after-restore", t.tmp / "records");
  EXPECT_EQ(same.unread_files, 20u);
  EXPECT_EQ(same.reused_layers, same.layers);
  EXPECT_EQ(same.uploaded_bytes, 0u);

  // The build appends to one file and changes another's mode.
  std::ofstream(there.workspace + "/cache/p2/f6", std::ios::app) << "built";
  ::chmod((there.workspace + "/cache/p1/f5").c_str(), 0600);
  auto changed = t.save_restored(there, 1, "after-build", t.tmp / "records");
  EXPECT_EQ(changed.unread_files, 18u);
  auto reading = t.save_restored(there, 1, "read-all", "");  // no records: reads every file
  EXPECT_EQ(reading.unread_files, 0u);
  EXPECT_EQ(t.layer_digests("after-build"), t.layer_digests("read-all"));
}

// Modes the restore masks (group write, under a 022 umask) are recorded as written, so
// the save through the records makes exactly the entry a save reading every file makes.
TEST(RestoredRecords, MaskedModesGiveTheEntryAFullReadGives) {
  RecordedSaves t;
  for (int i = 0; i < 20; i += 3)
    ::chmod((t.cache + "/p" + std::to_string(i % 4) + "/f" + std::to_string(i)).c_str(), 0664);
  write_file(t.cache + "/" + std::string(120, 'l') + "/" + std::string(90, 'n'), "a long path");
  t.save();
  TempDir dst;
  Anchors there{dst / "ws", dst / "home"};
  t.restore_into(1, there, 022);
  // Every file is recorded, with the print a full read of it gives (pax headers for the
  // long path and the nanosecond mtimes, the masked modes).
  auto entries = walk_tree(there.workspace + "/cache", "ws/cache", nullptr).value();
  std::vector<EntryPrint> read(entries.size()), got(entries.size());
  std::vector<char> known(entries.size(), 0);
  Pack all;
  for (size_t i = 0; i < entries.size(); ++i) all.entries.push_back(i);
  ASSERT_TRUE(pack_fingerprint(entries, all, &read).ok());
  EXPECT_EQ(recall_prints({t.tmp / "records", std::chrono::seconds(0)}, entries, got, known), 21u);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!known[i]) continue;
    EXPECT_EQ(got[i].hash, read[i].hash) << entries[i].path;
    EXPECT_EQ(got[i].bytes, read[i].bytes) << entries[i].path;
  }
  auto through = t.save_restored(there, 1, "through-records", t.tmp / "records");
  auto reading = t.save_restored(there, 1, "reading-all", "");
  EXPECT_EQ(reading.unread_files, 0u);
  EXPECT_GT(through.unread_files, 0u);
  EXPECT_EQ(t.layer_digests("through-records"), t.layer_digests("reading-all"));
}

// When the save after a restore writes the record again (a file changed), the rows it
// took from the restore stay: the restored files are too recent for its own rule.
TEST(RestoredRecords, ASaveKeepsTheRestoredRowsItUsed) {
  RecordedSaves t;
  for (const auto& e : fs::recursive_directory_iterator(t.cache)) {
    timespec ts[2] = {{1'600'000'000, 5}, {1'600'000'000, 5}};  // saved long ago
    ::utimensat(AT_FDCWD, e.path().c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }
  t.save();
  TempDir dst;
  Anchors there{dst / "ws", dst / "home"};
  t.restore_into(1, there);
  const std::string records = t.tmp / "records";
  auto save = [&](const std::string& key) {
    SaveOptions o;
    o.key = key;
    o.base_key = "k1";
    o.paths = {there.workspace + "/cache"};
    o.anchors = there;
    o.packs = packs_around(16 << 10);
    o.records = {records, std::chrono::hours(1)};  // nothing changed within the hour counts
    return save_entry(t.store, o).value();
  };
  std::ofstream(there.workspace + "/cache/p0/f4", std::ios::app) << "built";
  EXPECT_EQ(save("b1").unread_files, 19u);
  EXPECT_EQ(save("b2").unread_files, 19u);  // the changed file is read; the rest kept
}

// Only roots restored whole are recorded: a restore of a path inside a root records none.
TEST(RestoredRecords, APartOfARootIsNotRecorded) {
  RecordedSaves t;
  t.save();
  TempDir dst;
  RestoreOptions o;
  o.key = "k1";
  o.anchors = {dst / "ws", dst / "home"};
  o.paths = {dst / "ws/cache/p1"};
  o.records = {t.tmp / "records-part", std::chrono::seconds(0)};
  ASSERT_TRUE(restore_entry(t.store, o).ok());
  EXPECT_FALSE(fs::exists(t.tmp / "records-part"));
}

}  // namespace
}  // namespace regcache
