// Saves that stack a delta layer on their base entry: which files go into it (changed,
// added, whole hard-link groups, whiteouts for what was removed), what is uploaded, when a
// save compacts instead, and that a restore of every such entry gives the saved tree back
// exactly (contents, types, modes, nanosecond mtimes, hard links).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hiding_store.hpp"
#include "regcache/core/restore.hpp"
#include "regcache/core/save.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "save_workspace.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_file;

namespace fs = std::filesystem;

// Everything a restore must give back, per path below dir: type, mode, mtime, content or
// link target, and which paths share an inode.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::map<ino_t, std::string> first;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    std::string rel = it->path().lexically_relative(dir).string();
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    std::string what = std::to_string(st.st_mode & 07777) + " " +
                       std::to_string(st.st_mtim.tv_sec) + "." +
                       std::to_string(st.st_mtim.tv_nsec) + " ";
    if (S_ISLNK(st.st_mode)) {
      what = "link -> " + fs::read_symlink(it->path()).string();  // link times: not kept
    } else if (S_ISDIR(st.st_mode)) {
      what += "dir";
    } else {
      what += "file " + slurp(it->path().string());
      if (st.st_nlink > 1) {
        auto [pos, fresh] = first.emplace(st.st_ino, rel);
        if (!fresh) what += " same inode as " + pos->second;
      }
    }
    out[rel] = what;
  }
  return out;
}

// Sets a path's mtime (directories included) so that every save sees a definite time.
void touch(const std::string& path, int64_t sec) {
  timespec ts[2] = {{sec, 123}, {sec, 123}};
  ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

struct DeltaSave : SaveWorkspace {
  DeltaSave() {
    for (int i = 0; i < 20; ++i)
      write_file(cache + "/pkg" + std::to_string(i % 4) + "/f" + std::to_string(i) + ".txt",
                 std::string(2000 + i, 'a' + i % 26));
    write_file(cache + "/big.bin", std::string(200000, 'B'));
    settle();
  }

  // Gives every path a fixed mtime, as a build's outputs keep theirs between saves.
  void settle() {
    for (const auto& e : fs::recursive_directory_iterator(cache))
      touch(e.path().string(), 1700000000);
    touch(cache, 1700000000);
  }

  // Saves the cache under a new key, on the previous key as its base.
  SaveReport save(DeltaLayers deltas = DeltaLayers::allowed) {
    SaveOptions o;
    o.key = "k" + std::to_string(++saves);
    if (saves > 1) o.base_key = "k" + std::to_string(saves - 1);
    o.paths = {cache};
    o.anchors = src;
    o.jobs = 2;
    o.cpu_jobs = 2;
    o.packs = packs_around(64 << 10);  // a few packs
    o.deltas = deltas;
    auto r = save_entry(store, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : SaveReport{};
  }

  EntryInfo entry(int n) {
    auto m = store.get_manifest(tag_for_key("k" + std::to_string(n)));
    EXPECT_TRUE(m.ok() && m.value());
    auto info = parse_manifest(m.value()->bytes);
    EXPECT_TRUE(info.ok());
    return info.value();
  }

  size_t deltas_in(int n) {
    auto e = entry(n);
    return std::count_if(e.layers.begin(), e.layers.end(), is_delta_layer);
  }

  // Restores entry n into a fresh workspace and expects the cache as it is now.
  void expect_restores_exactly(int n) {
    TempDir dst;
    RestoreOptions o;
    o.key = "k" + std::to_string(n);
    o.anchors = {dst / "ws", dst / "home"};
    o.jobs = 2;
    auto r = restore_entry(store, o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(snapshot(dst / "ws/cache"), snapshot(cache)) << "entry k" << n;
  }
};

TEST(DeltaSave, AFewChangedFilesMakeOneSmallDeltaLayer) {
  DeltaSave t;
  auto first = t.save();
  write_file(t.cache + "/pkg1/f5.txt", "changed");
  write_file(t.cache + "/pkg2/new.txt", "added");
  fs::remove(t.cache + "/pkg3/f7.txt");
  t.settle();
  auto second = t.save();
  EXPECT_EQ(second.layers, first.layers + 1);
  EXPECT_EQ(second.reused_layers, first.layers);
  EXPECT_EQ(t.deltas_in(2), 1u);
  // The delta and the config: far less than the packs the three files lie in.
  EXPECT_LT(second.uploaded_bytes, 3000u) << second.uploaded_bytes;
  auto e = t.entry(2);
  for (size_t i = 0; i + 1 < e.layers.size(); ++i)
    EXPECT_EQ(e.layers[i].digest, t.entry(1).layers[i].digest);
  t.expect_restores_exactly(2);
}

TEST(DeltaSave, ANewlineInAFileNameKeepsDeltasOn) {
  DeltaSave t;
  write_file(t.cache + "/pkg0/two\nlines.txt", "a name with a newline");
  t.settle();
  auto first = t.save();
  write_file(t.cache + "/pkg1/f5.txt", "changed");
  t.settle();
  auto second = t.save();
  EXPECT_EQ(t.deltas_in(2), 1u);  // the base's file list was read
  EXPECT_EQ(second.reused_layers, first.layers);
  t.expect_restores_exactly(2);
}

TEST(DeltaSave, AnUnchangedSaveOnADeltaUploadsNothing) {
  DeltaSave t;
  t.save();
  write_file(t.cache + "/pkg0/f0.txt", "changed");
  t.settle();
  t.save();
  int blobs = t.store.put_blobs;
  auto third = t.save();
  EXPECT_EQ(third.uploaded_bytes, 0u);
  EXPECT_EQ(t.store.put_blobs, blobs);
  EXPECT_EQ(t.entry(3).layers.size(), t.entry(2).layers.size());
  for (size_t i = 0; i < t.entry(3).layers.size(); ++i)
    EXPECT_EQ(t.entry(3).layers[i].digest, t.entry(2).layers[i].digest);
  EXPECT_EQ(t.entry(3).config.digest, t.entry(2).config.digest);
  t.expect_restores_exactly(3);
}

TEST(DeltaSave, RemovalsTypeChangesAndDirectoriesRestoreExactly) {
  DeltaSave t;
  write_file(t.cache + "/gone/a/deep.txt", "deep");
  write_file(t.cache + "/gone/b.txt", "b");
  write_file(t.cache + "/dir_to_file/x.txt", "x");
  write_file(t.cache + "/file_to_dir", "a file");
  ::symlink("pkg0/f0.txt", (t.cache + "/link").c_str());
  t.settle();
  t.save();
  fs::remove_all(t.cache + "/gone");
  fs::remove_all(t.cache + "/dir_to_file");
  write_file(t.cache + "/dir_to_file", "now a file");
  fs::remove(t.cache + "/file_to_dir");
  write_file(t.cache + "/file_to_dir/inner.txt", "now a directory");
  fs::remove(t.cache + "/link");
  ::symlink("pkg1/f1.txt", (t.cache + "/link").c_str());
  ::chmod((t.cache + "/pkg2").c_str(), 0700);
  t.settle();
  t.save();
  EXPECT_EQ(t.deltas_in(2), 1u);
  t.expect_restores_exactly(2);
}

TEST(DeltaSave, AChangedFileTakesItsHardLinksAlong) {
  DeltaSave t;
  write_file(t.cache + "/pkg0/target.txt", "shared");
  ::link((t.cache + "/pkg0/target.txt").c_str(), (t.cache + "/pkg3/alias.txt").c_str());
  t.settle();
  t.save();
  write_file(t.cache + "/pkg0/target.txt", "shared, changed");  // in place: the link follows
  t.settle();
  t.save();
  EXPECT_EQ(t.deltas_in(2), 1u);
  t.expect_restores_exactly(2);
  EXPECT_EQ(slurp(t.cache + "/pkg3/alias.txt"), "shared, changed");
}

// A file named like a whiteout is an ordinary file in a pack; once it is removed, the
// whiteout of it would read as a marker (".wh..wh..opq" makes a directory opaque), so the
// save packs as usual.
TEST(DeltaSave, RemovingAFileNamedLikeAWhiteoutPacksAsUsual) {
  for (const char* name : {".wh.foo", ".wh..opq"}) {
    DeltaSave t;
    write_file(t.cache + "/pkg0/" + name, "a file");
    t.settle();
    t.save();
    fs::remove(t.cache + "/pkg0/" + name);
    t.settle();
    t.save();
    EXPECT_EQ(t.deltas_in(2), 0u) << name;
    t.expect_restores_exactly(2);
  }
}

TEST(DeltaSave, TheNinthChangeCompacts) {
  DeltaSave t;
  t.save();
  for (int i = 0; i < 9; ++i) {
    write_file(t.cache + "/pkg" + std::to_string(i % 4) + "/f" + std::to_string(i) + ".txt",
               "change " + std::to_string(i));
    t.settle();
    t.save();
  }
  for (int n = 2; n <= 9; ++n) EXPECT_EQ(t.deltas_in(n), static_cast<size_t>(n - 1)) << n;
  EXPECT_EQ(t.deltas_in(10), 0u);  // k9 held 8 deltas: k10 repacked
  t.expect_restores_exactly(10);
  for (int n = 1; n <= 10; n += 9) EXPECT_EQ(t.deltas_in(n), 0u);
}

TEST(DeltaSave, HidingMoreThanATenthOfTheBytesCompacts) {
  DeltaSave t;
  t.save();
  write_file(t.cache + "/big.bin", std::string(200000, 'C'));  // most of the cache's bytes
  t.settle();
  t.save();
  EXPECT_EQ(t.deltas_in(2), 0u);
  t.expect_restores_exactly(2);
}

TEST(DeltaSave, NoDeltaWhenTurnedOffOrTheRootsChange) {
  DeltaSave t;
  t.save();
  write_file(t.cache + "/pkg0/f0.txt", "changed");
  t.settle();
  t.save(DeltaLayers::never);
  EXPECT_EQ(t.deltas_in(2), 0u);
  write_file(t.cache + "/pkg0/f0.txt", "changed again");
  t.settle();
  t.save();
  EXPECT_EQ(t.deltas_in(3), 1u);
  write_file(t.src.workspace + "/other/x.txt", "another root");
  SaveOptions o;
  o.key = "k4";
  o.base_key = "k3";
  o.paths = {t.cache, t.src.workspace + "/other"};
  o.anchors = t.src;
  o.packs = packs_around(64 << 10);
  ASSERT_TRUE(save_entry(t.store, o).ok());
  EXPECT_EQ(t.deltas_in(4), 0u);
}

// A delta keeps every layer of its base: a base compressed otherwise lends none of them.
TEST(DeltaSave, ABaseCompressedOtherwiseIsPackedAgain) {
  DeltaSave t;
  SaveOptions o;
  o.key = "gz";
  o.paths = {t.cache};
  o.anchors = t.src;
  o.packs = packs_around(64 << 10);
  o.compression = Compression::gzip;
  ASSERT_TRUE(save_entry(t.store, o).ok());
  o.key = "zst";
  o.base_key = "gz";
  o.compression = Compression::zstd;
  auto r = save_entry(t.store, o);  // the tree is unchanged
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->reused_layers, 0u);
  auto m = t.store.get_manifest(tag_for_key("zst"));
  auto e = parse_manifest(m.value()->bytes).value();
  for (const auto& l : e.layers) EXPECT_EQ(l.media_type, layer_media_type(Compression::zstd));
}

// A blob of the base gone from a registry repository: the manifest PUT naming it is
// refused, and the save packs as usual instead.
TEST(DeltaSave, ABaseBlobGoneFromARegistryMeansPackingAsUsual) {
  DeltaSave t;
  t.save();
  write_file(t.cache + "/pkg0/f0.txt", "changed");
  t.settle();
  auto base = t.entry(1);
  TestStore repo{*t.memory, "host/repo"};  // refuses a manifest naming a blob it lacks
  repo.hide(base.layers[0].digest);
  SaveOptions o;
  o.key = "k2";
  o.base_key = "k1";
  o.paths = {t.cache};
  o.anchors = t.src;
  o.packs = packs_around(64 << 10);
  auto r = save_entry(repo, o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(repo.put_manifests, 2);  // the delta entry refused, then the packed one
  EXPECT_FALSE(repo.is_hidden(base.layers[0].digest));  // packed and uploaded again
  t.saves = 2;
  EXPECT_EQ(t.deltas_in(2), 0u);
  t.expect_restores_exactly(2);
}

// A blob of the base gone from a store that takes any manifest (a layout, where a restore
// removes a damaged copy): the delta is not stacked on it; the save packs as usual, and
// counts as reused only the layers it took.
TEST(DeltaSave, ABaseBlobGoneFromALayoutMeansPackingAsUsual) {
  DeltaSave t;
  t.save();
  write_file(t.cache + "/pkg0/f0.txt", "changed");
  t.settle();
  auto base = t.entry(1);
  t.store.hide(base.layers[0].digest);
  auto r = t.save();
  EXPECT_EQ(t.deltas_in(2), 0u);
  size_t taken = 0;
  for (const auto& l : t.entry(2).layers) {
    EXPECT_FALSE(t.store.is_hidden(l.digest)) << l.digest;
    for (const auto& b : base.layers)  // the hidden one was packed again, not taken
      taken += b.digest == l.digest && b.digest != base.layers[0].digest;
  }
  EXPECT_GT(taken, 0u);
  EXPECT_EQ(r.reused_layers, taken);
  t.expect_restores_exactly(2);
}

}  // namespace
}  // namespace regcache
