#include <fcntl.h>
#include <gtest/gtest.h>

#include <sys/file.h>
#include <sys/stat.h>
#include <algorithm>

#include <cstring>
#include <memory>

#include "raw_tar.hpp"
#include "regcache/archive/extractor.hpp"
#include "regcache/archive/safe_path.hpp"
#include "regcache/archive/tar_layout.hpp"
#include "regcache/archive/tar_reader.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/file_entry.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::exists_nofollow;
using regcache::testing::RawTar;
using regcache::testing::TempDir;

namespace {

struct Harness {
  TempDir dir;
  int parent_fd = -1;
  DirFixups fixups;
  Harness() {
    std::filesystem::create_directories(dir / "dest");
    parent_fd = ::open((dir / "dest").c_str(), O_RDONLY | O_DIRECTORY);
  }
  ~Harness() { ::close(parent_fd); }
  std::string staged(const std::string& rel = "") const {
    return dir / ("dest/stage" + (rel.empty() ? "" : "/" + rel));
  }
  Status extract(const std::string& tar, ExternalSymlinks links = ExternalSymlinks::refuse) {
    Extractor ex({{"ws/root", parent_fd, "stage"}}, links, &fixups);
    TarReader reader(&ex);
    RC_CHECK(reader.write(tar.data(), tar.size()));
    RC_CHECK(reader.finish());
    return fixups.apply();
  }
};

void expect_hostile(const Status& st, const std::string& words) {
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::hostile) << st.error().message;
  EXPECT_NE(st.error().message.find(words), std::string::npos) << st.error().message;
}

}  // namespace

TEST(Extractor, ExtractsFilesDirsAndLinks) {
  Harness h;
  auto tar = RawTar()
                 .add("ws/root/", '5', "", "", 0750)
                 .add("ws/root/a.txt", '0', "hello")
                 .add("ws/root/sub/b.txt", '0', "world", "", 0600)
                 .add("ws/root/link", '2', "", "a.txt")
                 .add("ws/root/hard", '1', "", "ws/root/a.txt")
                 .add("ws/other/ignored", '0', "x")
                 .bytes();
  ASSERT_TRUE(h.extract(tar).ok());
  EXPECT_EQ(regcache::testing::slurp(h.staged("a.txt")), "hello");
  EXPECT_EQ(regcache::testing::slurp(h.staged("sub/b.txt")), "world");
  EXPECT_EQ(regcache::testing::slurp(h.staged("hard")), "hello");
  struct stat st {};
  ::stat(h.staged("sub/b.txt").c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  ::stat(h.staged().c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_FALSE(exists_nofollow(h.dir / "dest/other"));
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// The extractor keeps the directories of the last path open and reopens only what the next
// path does not share; deep paths past its limit, branches left and come back to, and
// sibling directories with modes of their own all land where they belong.
TEST(Extractor, PathsThatShareAndLeavePrefixesLandInTheirDirectories) {
  Harness h;
  std::string deep = "ws/root/deep";
  for (int i = 0; i < 100; ++i) deep += "/d" + std::to_string(i);
  std::string mid = "ws/root/deep";
  for (int i = 0; i < 70; ++i) mid += "/d" + std::to_string(i);
  auto tar = RawTar()
                 .add("ws/root/", '5', "", "", 0755)
                 .add("ws/root/a/b/c/f1", '0', "1")
                 .add("ws/root/a/b/d/", '5', "", "", 0700)
                 .add("ws/root/a/b/d/f2", '0', "2")
                 .add("ws/root/a/e/", '5', "", "", 0750)
                 .add("ws/root/a/e/f3", '0', "3")
                 .add("ws/root/g/f4", '0', "4")
                 .add("ws/root/a/b/c/f5", '0', "5")
                 .add_long(deep + "/f6", '0', "6")
                 .add_long(deep + "/f7", '0', "7")
                 .add_long(mid + "/f8", '0', "8")
                 .add_long(deep + "/f9", '0', "9")
                 .add_long(deep + "/e/f11", '0', "11")  // below the last directory, from it
                 .add_long(deep + "0/f10", '0', "10")   // its name starts as deep's does
                 .add_long(deep + "/f12", '0', "12")
                 .add("ws/root/top", '0', "t")
                 .bytes();
  const size_t before = open_fds();
  Status st = h.extract(tar);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(open_fds(), before) << "a directory descriptor outlived the extraction";
  const std::string d = deep.substr(std::string("ws/root/").size());
  const std::string m = mid.substr(std::string("ws/root/").size());
  for (const auto& [rel, body] :
       std::vector<std::pair<std::string, std::string>>{{"a/b/c/f1", "1"},
                                                        {"a/b/d/f2", "2"},
                                                        {"a/e/f3", "3"},
                                                        {"g/f4", "4"},
                                                        {"a/b/c/f5", "5"},
                                                        {d + "/f6", "6"},
                                                        {d + "/f7", "7"},
                                                        {m + "/f8", "8"},
                                                        {d + "/f9", "9"},
                                                        {d + "0/f10", "10"},
                                                        {d + "/e/f11", "11"},
                                                        {d + "/f12", "12"},
                                                        {"top", "t"}}) {
    EXPECT_EQ(regcache::testing::slurp(h.staged(rel)), body) << rel;
  }
  struct stat sb {};
  ::stat(h.staged("a/b/d").c_str(), &sb);
  EXPECT_EQ(sb.st_mode & 0777, 0700u);
  EXPECT_EQ(sb.st_mtim.tv_sec, 1600000000);
  ::stat(h.staged("a/e").c_str(), &sb);
  EXPECT_EQ(sb.st_mode & 0777, 0750u);
}

TEST(Extractor, RefusesTheRootAsAHardLink) {
  Harness h;
  expect_hostile(h.extract(RawTar().add("ws/root", '1', "", "ws/root/a").bytes()),
                 "the cache root is a hard link");
  EXPECT_FALSE(exists_nofollow(h.staged("stage")));
}

TEST(Extractor, RefusesDotDot) {
  Harness h;
  expect_hostile(h.extract(RawTar().add("ws/root/../../evil", '0', "x").bytes()), "unsafe path");
  EXPECT_FALSE(exists_nofollow(h.dir / "evil"));
}

TEST(Extractor, RefusesANameLongerThanAFileSystemTakes) {
  Harness h;
  expect_hostile(h.extract(RawTar().add_long("ws/root/" + std::string(256, 'n'), '0', "x").bytes()),
                 "unsafe path");
  Harness ok;  // 255 bytes is a name the kernel takes
  ASSERT_TRUE(
      ok.extract(RawTar().add_long("ws/root/" + std::string(255, 'n'), '0', "x").bytes()).ok());
  EXPECT_TRUE(exists_nofollow(ok.staged(std::string(255, 'n'))));
}

// A path of more components than an entry may hold: refused before anything is made (its
// header compresses to nothing; each level would be a directory). kMaxPathDepth is taken.
TEST(Extractor, RefusesAPathDeeperThanAnEntryMayHold) {
  std::string deep = "ws/root";
  while (std::count(deep.begin(), deep.end(), '/') + 1 < static_cast<long>(kMaxPathDepth))
    deep += "/d";
  EXPECT_TRUE(normalize_archive_path(deep).has_value());
  EXPECT_TRUE(normalize_archive_path(deep + "/").has_value());
  EXPECT_FALSE(normalize_archive_path(deep + "/f").has_value());
  Harness h;
  expect_hostile(h.extract(RawTar().add_long(deep + "/f", '0', "x").bytes()),
                 "more than 4096 levels deep");
  EXPECT_FALSE(exists_nofollow(h.staged()));
}

TEST(Extractor, RefusesAbsolutePath) {
  Harness h;
  expect_hostile(h.extract(RawTar().add("/tmp/evil", '0', "x").bytes()), "unsafe path");
}

TEST(Extractor, RefusesSymlinkOutside) {
  Harness h;
  expect_hostile(h.extract(RawTar().add("ws/root/l", '2', "", "/etc/passwd").bytes()), "outside");
  Harness h2;
  expect_hostile(h2.extract(RawTar().add("ws/root/d/l", '2', "", "../../x").bytes()), "outside");
}

TEST(Extractor, RefusesAHardLinkThatMovesASymlinkOutside) {
  // a/b/s -> ../../y stays inside from a/b; a second name for it at the root leaves it.
  auto tar = RawTar()
                 .add("ws/root/a/b", '5')
                 .add("ws/root/a/b/s", '2', "", "../../y")
                 .add("ws/root/h", '1', "", "ws/root/a/b/s")
                 .bytes();
  Harness h;
  expect_hostile(h.extract(tar), "hard link to a symlink");
  EXPECT_FALSE(exists_nofollow(h.staged("h")));
  Harness inside;  // the same link one level further down resolves inside: kept
  auto ok = RawTar()
                .add("ws/root/a/b/c", '5')
                .add("ws/root/a/b/s", '2', "", "../../y")
                .add("ws/root/a/b/c/h", '1', "", "ws/root/a/b/s")
                .bytes();
  ASSERT_TRUE(inside.extract(ok).ok());
  Harness allowed;  // external symlinks allowed: a second name is no more than the first
  ASSERT_TRUE(allowed.extract(tar, ExternalSymlinks::allow).ok());
}

TEST(Extractor, AllowsSymlinkOutsideWhenAsked) {
  Harness h;
  ASSERT_TRUE(h.extract(RawTar().add("ws/root/python", '2', "", "/usr/bin/python3").bytes(),
                        ExternalSymlinks::allow)
                  .ok());
  EXPECT_TRUE(exists_nofollow(h.staged("python")));
}

TEST(Extractor, RefusesWritingThroughSymlink) {
  Harness h;
  std::filesystem::create_directories(h.dir / "outside");
  auto target = h.dir / "outside";
  auto st = h.extract(RawTar()
                          .add("ws/root/d", '2', "", "sub")
                          .add("ws/root/sub/", '5')
                          .add("ws/root/d/f", '0', "through the link")
                          .bytes());
  expect_hostile(st, "symlink");
  EXPECT_FALSE(exists_nofollow(h.staged("sub/f")));
}

TEST(Extractor, RefusesDeviceFifoAndSetuid) {
  Harness a, b, c, d;
  expect_hostile(a.extract(RawTar().add("ws/root/dev", '3').bytes()), "device");
  expect_hostile(b.extract(RawTar().add("ws/root/blk", '4').bytes()), "device");
  expect_hostile(c.extract(RawTar().add("ws/root/fifo", '6').bytes()), "FIFO");
  expect_hostile(d.extract(RawTar().add("ws/root/suid", '0', "x", "", 04755).bytes()), "setuid");
}

TEST(Extractor, RefusesDuplicates) {
  Harness h;
  expect_hostile(h.extract(RawTar().add("ws/root/f", '0', "1").add("ws/root/f", '0', "2").bytes()),
                 "duplicate");
}

TEST(Extractor, RefusesHardLinkOutside) {
  Harness h;
  expect_hostile(h.extract(RawTar().add("ws/root/h", '1', "", "etc/passwd").bytes()), "outside");
  Harness h2;
  expect_hostile(h2.extract(RawTar().add("ws/root/h", '1', "", "ws/root/../../x").bytes()),
                 "outside");
}

TEST(Extractor, RootAsSingleFile) {
  Harness h;
  Extractor ex({{"ws/file.txt", h.parent_fd, "stagefile"}}, ExternalSymlinks::refuse, &h.fixups);
  TarReader reader(&ex);
  auto tar = RawTar().add("ws/file.txt", '0', "single").bytes();
  ASSERT_TRUE(reader.write(tar.data(), tar.size()).ok());
  EXPECT_EQ(regcache::testing::slurp(h.dir / "dest/stagefile"), "single");
}

// Found while writing fuzz/fuzz_extractor.cpp's oracle (it resolves symlinks on disk):
// each link was checked lexically on its own, so "s -> .." plus "t -> s/.." put a link to
// the root's parent in the cache, and "u -> t/.." one to its grandparent, and so on.
TEST(Extractor, RefusesSymlinkChainsThatClimbOut) {
  Harness h;
  auto st = h.extract(RawTar()
                          .add("ws/root/d/", '5')
                          .add("ws/root/d/s", '2', "", "..")
                          .add("ws/root/d/t", '2', "", "s/..")
                          .bytes());
  expect_hostile(st, "outside");
  EXPECT_FALSE(exists_nofollow(h.staged("d/t")));
  Harness h2;
  expect_hostile(
      h2.extract(RawTar().add("ws/root/s", '2', "", ".").add("ws/root/t", '2', "", "s/..").bytes()),
      "outside");
}

TEST(Extractor, RefusesTheRootAsASymlinkInEveryMode) {
  // A save follows a root that is a symlink, so a root entry that is one was crafted.
  Harness h;
  expect_hostile(h.extract(RawTar().add("ws/root", '2', "", "sibling").bytes()), "is a symlink");
  Harness h2;
  expect_hostile(
      h2.extract(RawTar().add("ws/root", '2', "", "sibling").bytes(), ExternalSymlinks::allow),
      "is a symlink");
  EXPECT_FALSE(exists_nofollow(h2.dir / "dest/stage"));
}

TEST(Extractor, KeepsSymlinksThatClimbOnlyThroughRealDirectories) {
  Harness h;
  ASSERT_TRUE(h.extract(RawTar()
                            .add("ws/root/lib/", '5')
                            .add("ws/root/lib/x", '0', "x")
                            .add("ws/root/lib64", '2', "", "lib")
                            .add("ws/root/bin/", '5')
                            .add("ws/root/bin/x", '2', "", "../lib/./x")
                            .add("ws/root/bin/up", '2', "", "..")
                            .bytes())
                  .ok());
  EXPECT_TRUE(exists_nofollow(h.staged("bin/x")));
  EXPECT_TRUE(exists_nofollow(h.staged("bin/up")));
}

// Issue 17 (5): an entry cannot make what it restores writable by others.
TEST(Extractor, MasksGroupAndOtherWriteBits) {
  auto tar =
      RawTar().add("ws/root/", '5', "", "", 0777).add("ws/root/f", '0', "x", "", 0666).bytes();
  for (uint32_t mask : {022u, 0u}) {
    Harness h;
    Extractor ex({{"ws/root", h.parent_fd, "stage"}}, ExternalSymlinks::refuse, &h.fixups);
    ex.mask_modes(mask);
    TarReader reader(&ex);
    ASSERT_TRUE(reader.write(tar.data(), tar.size()).ok());
    ASSERT_TRUE(reader.finish().ok());
    ASSERT_TRUE(h.fixups.apply().ok());
    struct stat d {
    }, f{};
    ::stat(h.staged().c_str(), &d);
    ::stat(h.staged("f").c_str(), &f);
    EXPECT_EQ(d.st_mode & 07777, 0777 & ~mask);
    EXPECT_EQ(f.st_mode & 07777, 0666 & ~mask);
  }
}

// Issue 17 (2): the directory fix-ups after extraction walk with O_NOFOLLOW per component,
// so a staged directory swapped for a link meanwhile gets no chmod of ours elsewhere.
TEST(Extractor, DirectoryFixupsFollowNoSwappedLink) {
  Harness h;
  std::filesystem::create_directories(h.dir / "outside/b");
  ::chmod((h.dir / "outside/b").c_str(), 0700);
  Extractor ex({{"ws/root", h.parent_fd, "stage"}}, ExternalSymlinks::refuse, &h.fixups);
  auto tar = RawTar()
                 .add("ws/root/", '5', "", "", 0755)
                 .add("ws/root/a/", '5', "", "", 0755)
                 .add("ws/root/a/b/", '5', "", "", 0777)
                 .bytes();
  TarReader reader(&ex);
  ASSERT_TRUE(reader.write(tar.data(), tar.size()).ok());
  ASSERT_TRUE(reader.finish().ok());
  // Whoever owns the destination's parent swaps stage/a for a link to a directory of theirs.
  std::filesystem::remove_all(h.staged("a"));
  ASSERT_EQ(::symlink((h.dir / "outside").c_str(), h.staged("a").c_str()), 0);
  Status st = h.fixups.apply();
  ASSERT_FALSE(st.ok());
  struct stat b {};
  ::stat((h.dir / "outside/b").c_str(), &b);
  EXPECT_EQ(b.st_mode & 07777, 0700u) << "a chmod went through the swapped link";
}

namespace {

// Returns true when someone holds a lock on path (util/stale.hpp).
bool held(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  bool taken = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return taken;
}

}  // namespace

// The staging location stays held from its creation until its holder goes: a cleanup in
// another PID namespace can tell it from a leftover.
TEST(Extractor, TheStagingLocationIsHeldWhileItsHolderLives) {
  for (bool root_entry : {false, true}) {
    for (bool file_root : {false, true}) {
      if (root_entry && file_root) continue;
      Harness h;
      auto holds = std::make_unique<TempHolds>();
      RawTar tar;
      if (file_root) {
        tar.add("ws/root", '0', "a file root");
      } else {
        if (root_entry) tar.add("ws/root/", '5');
        tar.add("ws/root/sub/f", '0', "x");
      }
      {
        Extractor ex({{"ws/root", h.parent_fd, "stage", "", holds.get()}}, ExternalSymlinks::refuse,
                     &h.fixups);
        TarReader reader(&ex);
        std::string bytes = tar.bytes();
        ASSERT_TRUE(reader.write(bytes.data(), bytes.size()).ok());
        ASSERT_TRUE(reader.finish().ok());
      }
      EXPECT_TRUE(held(h.staged())) << root_entry << file_root;
      holds.reset();
      EXPECT_FALSE(held(h.staged())) << root_entry << file_root;
    }
  }
}

TEST(Extractor, BoundsTheHardLinksAPartialRestoreSkips) {
  // Restoring ws/root/part: links there to ws/root/other cannot be made and are remembered
  // for later; names of a MiB each add up fast, so what they may hold is bounded.
  TempDir dir;
  std::filesystem::create_directories(dir / "dest");
  UniqueFd parent(::open((dir / "dest").c_str(), O_RDONLY | O_DIRECTORY));
  DirFixups fixups;
  Extractor ex({{"ws/root/part", parent.get(), "stage", "ws/root"}}, ExternalSymlinks::refuse,
               &fixups);
  TarReader reader(&ex);
  auto one =
      RawTar().add("ws/root/other/f", '0', "x").add("ws/root/part/l0", '1', "", "ws/root/other/f");
  std::string first = one.bytes();
  first.resize(first.size() - 1024);  // no end of archive yet
  ASSERT_TRUE(reader.write(first.data(), first.size()).ok());
  ASSERT_EQ(ex.skipped_links().size(), 1u);
  const std::string deep = "ws/root/other/" + [] {
    std::string p;
    for (int i = 0; i < 4000; ++i) p += std::string(250, 'd') + "/";
    return p;
  }() + "f";  // a 1 MiB target, 4,000 components of 250 bytes
  Status st;
  for (int i = 0; i < 100 && st.ok(); ++i) {
    const std::string body = RawTar::pax_record("linkpath", deep);
    std::string more = RawTar()
                           .add("PaxHeader", 'x', body)
                           .add("ws/root/part/l" + std::to_string(i + 1), '1')
                           .bytes();
    more.resize(more.size() - 1024);
    st = reader.write(more.data(), more.size());
  }
  expect_hostile(st, "too many hard links");
  EXPECT_LE(ex.skipped_links().size(), 70u);
}
