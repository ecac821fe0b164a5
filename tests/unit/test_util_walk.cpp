// The walk with several threads: the same entries, in the same order, as with one, on a
// tree wide and deep enough for the threads to share directories; excludes apply the same.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "regcache/util/fd.hpp"
#include "regcache/util/fd_limit.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/walk.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::TempDir;
using testing::write_file;

// Every field a walk fills in, as one line per entry.
std::vector<std::string> lines(const std::vector<FileEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    out.push_back(e.path + " " + std::to_string(static_cast<int>(e.type)) + " " +
                  std::to_string(e.mode) + " " + std::to_string(e.size) + " " +
                  std::to_string(e.mtime_sec) + "." + std::to_string(e.mtime_nsec) + " " +
                  std::to_string(e.ctime_ns) + " " + std::to_string(e.ino) + " " + e.link_target +
                  " " + source_of(e));
  }
  return out;
}

void make_tree(const TempDir& dir) {
  for (int a = 0; a < 12; ++a) {
    for (int b = 0; b < 6; ++b) {
      std::string d = dir / ("t/d" + std::to_string(a) + "/e" + std::to_string(b));
      for (int f = 0; f < 4; ++f) write_file(d + "/f" + std::to_string(f), std::string(f, 'x'));
      write_file(d + ".txt", "beside");  // sorts before "d.../e.../": '.' < '/'
    }
  }
  write_file(dir / "t/d3/skip.o", "excluded");
  ::symlink("d0/e0/f1", (dir / "t/link").c_str());
  ::link((dir / "t/d0/e0/f2").c_str(), (dir / "t/d9/hard").c_str());
}

TEST(Walk, ThreadsGiveTheSameEntriesInTheSameOrder) {
  TempDir dir;
  make_tree(dir);
  auto one = walk_tree(dir / "t", "ws/t", nullptr, 1);
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one.value().size(), 1u + 12 + 12 * 6 * 2 + 12 * 6 * 4 + 1 + 1 + 1);
  EXPECT_TRUE(std::is_sorted(one.value().begin(), one.value().end(),
                             [](const auto& a, const auto& b) { return a.path < b.path; }));
  for (size_t threads : {2, 4, 8}) {
    auto many = walk_tree(dir / "t", "ws/t", nullptr, threads);
    ASSERT_TRUE(many.ok()) << many.error().message;
    EXPECT_EQ(lines(many.value()), lines(one.value())) << threads << " threads";
  }
  // The hard link is found as such whichever thread saw which name first.
  auto many = walk_tree(dir / "t", "ws/t", nullptr, 4).value();
  auto hard =
      std::find_if(many.begin(), many.end(), [](auto& e) { return e.path == "ws/t/d9/hard"; });
  ASSERT_NE(hard, many.end());
  EXPECT_EQ(hard->type, FileType::hardlink);
  EXPECT_EQ(hard->link_target, "ws/t/d0/e0/f2");
}

TEST(Walk, ExcludesApplyInEveryThread) {
  TempDir dir;
  make_tree(dir);
  ExcludeFn exclude = [](const std::string& rel) {
    return rel.ends_with(".o") || rel == "d5" || rel.ends_with("/e2");
  };
  auto one = walk_tree(dir / "t", "ws/t", exclude, 1).value();
  auto many = walk_tree(dir / "t", "ws/t", exclude, 4).value();
  EXPECT_EQ(lines(many), lines(one));
  for (const auto& e : many) {
    EXPECT_FALSE(e.path.ends_with(".o")) << e.path;
    EXPECT_FALSE(e.path.starts_with("ws/t/d5")) << e.path;
    EXPECT_FALSE(e.path.find("/e2/") != std::string::npos || e.path.ends_with("/e2")) << e.path;
  }
  EXPECT_EQ(many.size(), 1u + 11 + 11 * 5 * 2 + 11 * 5 * 4 + 11 /* e2.txt */ + 1 + 1);
}

// A symlink's st_size is a hint: /proc reports 0 for its links, and the target was cut to
// st_size + 1 bytes ("/" for /proc/PID/cwd).
TEST(Walk, ASymlinkTargetIsReadWholeWhateverItsSizeSays) {
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  auto entries = walk_tree("/proc/" + std::to_string(::getpid()), "ws/p",
                           [](const std::string& rel) { return rel != "cwd"; });
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  auto link = std::find_if(entries->begin(), entries->end(),
                           [](const FileEntry& e) { return e.path == "ws/p/cwd"; });
  ASSERT_NE(link, entries->end());
  EXPECT_EQ(link->type, FileType::symlink);
  EXPECT_EQ(link->link_target, cwd);
  TempDir dir;  // and a long one where st_size is right
  const std::string target = std::string(300, 'x') + "/" + std::string(200, 'y');
  std::filesystem::create_directories(dir / "t");
  ASSERT_EQ(::symlink(target.c_str(), (dir / "t/l").c_str()), 0);
  auto walked = walk_tree(dir / "t", "ws/t", nullptr);
  ASSERT_TRUE(walked.ok());
  auto l = std::find_if(walked->begin(), walked->end(),
                        [](const FileEntry& e) { return e.path == "ws/t/l"; });
  ASSERT_NE(l, walked->end());
  EXPECT_EQ(l->link_target, target);
}

// A file or directory listed and then removed (a build's temporary) is left out with a
// warning instead of failing the save. The exclusion check runs between listing and
// examining each name, so it removes them at exactly that moment here.
TEST(Walk, WhatIsRemovedWhileTheWalkRunsIsLeftOut) {
  TempDir dir;
  write_file(dir / "t/keep", "k");
  write_file(dir / "t/tmp.o", "gone soon");
  write_file(dir / "t/tmpdir/x", "gone soon");
  const std::string root = dir / "t";
  auto entries = walk_tree(root, "ws/t", [&](const std::string& rel) {
    if (rel == "tmp.o" || rel == "tmpdir") std::filesystem::remove_all(root + "/" + rel);
    return false;
  });
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  std::vector<std::string> paths;
  for (const auto& e : *entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"ws/t", "ws/t/keep"}));
}

TEST(Walk, AMissingRootIsAnError) {
  TempDir dir;
  auto r = walk_tree(dir / "absent", "ws/absent", nullptr, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("absent"), std::string::npos) << r.error().message;
}

}  // namespace
// A tree as deep as an entry may hold (kMaxPathDepth components with the root's) is walked;
// one level more is refused, naming the tree (a restore would refuse its paths).
TEST(Walk, ATreeDeeperThanAnEntryMayHoldIsRefused) {
  raise_open_file_limit();  // a level holds a descriptor, as a restore's removal does
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < kMaxPathDepth + 256)
    GTEST_SKIP() << "a soft limit of " << lim.rlim_cur << " descriptors";
  TempDir dir;
  ASSERT_EQ(::mkdir((dir / "t").c_str(), 0755), 0);
  UniqueFd fd(::open((dir / "t").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (size_t level = 2; level <= kMaxPathDepth; ++level) {  // "r" is the first component
    ASSERT_EQ(::mkdirat(fd.get(), "d", 0755), 0);
    fd = UniqueFd(::openat(fd.get(), "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  auto deepest = walk_tree(dir / "t", "r", nullptr, 2);
  ASSERT_TRUE(deepest.ok()) << deepest.error().message;
  EXPECT_EQ(deepest->size(), kMaxPathDepth);
  ASSERT_EQ(::mkdirat(fd.get(), "d", 0755), 0);
  auto deeper = walk_tree(dir / "t", "r", nullptr, 2);
  ASSERT_FALSE(deeper.ok());
  EXPECT_NE(deeper.error().message.find("more than 4096 levels deep"), std::string::npos)
      << deeper.error().message.substr(0, 300);
  EXPECT_LT(deeper.error().message.size(), 400u);
  // Removed on a thread with a 256 KiB stack: the removal keeps its own stack, not frames.
  struct Removal {
    int dir;
    bool ok = false;
  } removal{::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 << 10);
  pthread_t thread;
  ASSERT_EQ(::pthread_create(
                &thread, &attr,
                [](void* p) -> void* {
                  auto* r = static_cast<Removal*>(p);
                  r->ok = remove_tree_at(r->dir, "t", "the deep tree").ok();
                  return nullptr;
                },
                &removal),
            0);
  ::pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  ::close(removal.dir);
  EXPECT_TRUE(removal.ok);
  EXPECT_FALSE(std::filesystem::exists(dir / "t"));
}

}  // namespace regcache
