// Copying a restored tree where no rename reaches (another file system), and telling a mount
// point: the copy keeps what a rename would (contents, modes, times, symlinks) and arrives whole
// or not at all.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "regcache/util/copy_tree.hpp"
#include "regcache/util/fs.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::exists_nofollow;
using testing::slurp;
using testing::TempDir;
using testing::write_file;

// Copies dir/src/NAME onto dir/dst/NAME.
Status copy_across(const TempDir& dir, const std::string& name) {
  int src = ::open((dir / "src").c_str(), O_RDONLY | O_DIRECTORY);
  int dst = ::open((dir / "dst").c_str(), O_RDONLY | O_DIRECTORY);
  Status st = copy_tree_at(src, name, dst, name, dir / ("dst/" + name));
  ::close(src);
  ::close(dst);
  return st;
}

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

TEST(CopyTree, KeepsContentsModesTimesAndSymlinks) {
  TempDir dir;
  write_file(dir / "src/tree/bin", std::string(300000, 'x'));
  ::chmod((dir / "src/tree/bin").c_str(), 0751);
  write_file(dir / "src/tree/sub/a", "a");
  ::symlink("../bin", (dir / "src/tree/sub/link").c_str());
  ::chmod((dir / "src/tree/sub").c_str(), 0705);
  timespec old[2] = {{1400000000, 0}, {1400000000, 5}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "src/tree/sub/a").c_str(), old, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "src/tree/sub/link").c_str(), old, AT_SYMLINK_NOFOLLOW),
            0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "src/tree/sub").c_str(), old, 0), 0);
  std::filesystem::create_directories(dir / "dst");
  ASSERT_TRUE(copy_across(dir, "tree").ok());
  EXPECT_EQ(slurp(dir / "dst/tree/bin"), std::string(300000, 'x'));
  EXPECT_EQ(lstat_of(dir / "dst/tree/bin").st_mode & 07777, 0751u);
  EXPECT_EQ(lstat_of(dir / "dst/tree/sub").st_mode & 07777, 0705u);
  for (const char* n : {"dst/tree/sub", "dst/tree/sub/a", "dst/tree/sub/link"}) {
    EXPECT_EQ(lstat_of(dir / n).st_mtim.tv_sec, 1400000000) << n;
    EXPECT_EQ(lstat_of(dir / n).st_mtim.tv_nsec, 5) << n;
  }
  EXPECT_TRUE(S_ISLNK(lstat_of(dir / "dst/tree/sub/link").st_mode));
  EXPECT_EQ(slurp(dir / "dst/tree/sub/link"), std::string(300000, 'x'));
  EXPECT_EQ(std::filesystem::directory_iterator(dir / "dst")->path().filename(), "tree")
      << "a temporary was left beside it";
}

TEST(CopyTree, ReplacesAFileInOneStep) {
  TempDir dir;
  write_file(dir / "src/f", "new");
  write_file(dir / "dst/f", "old");
  ASSERT_TRUE(copy_across(dir, "f").ok());
  EXPECT_EQ(slurp(dir / "dst/f"), "new");
}

TEST(CopyTree, AFailureLeavesNothing) {
  TempDir dir;
  write_file(dir / "src/tree/a", "a");
  ASSERT_EQ(::mkfifo((dir / "src/tree/z_fifo").c_str(), 0600), 0);
  std::filesystem::create_directories(dir / "dst");
  Status st = copy_across(dir, "tree");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("z_fifo"), std::string::npos) << st.error().message;
  EXPECT_TRUE(std::filesystem::is_empty(dir / "dst")) << "a partial copy was left";
}

TEST(CopyTree, HardLinksWithinTheTreeStayLinks) {
  TempDir dir;
  write_file(dir / "src/tree/bin/tool", "elf");
  std::filesystem::create_directories(dir / "src/tree/deps");
  ASSERT_EQ(::link((dir / "src/tree/bin/tool").c_str(), (dir / "src/tree/deps/tool-1a2b").c_str()),
            0);
  write_file(dir / "src/tree/shared", "s");
  ASSERT_EQ(::link((dir / "src/tree/shared").c_str(), (dir / "src/outside").c_str()), 0);
  std::filesystem::create_directories(dir / "dst");
  ASSERT_TRUE(copy_across(dir, "tree").ok());
  const auto tool = lstat_of(dir / "dst/tree/bin/tool");
  const auto dep = lstat_of(dir / "dst/tree/deps/tool-1a2b");
  EXPECT_EQ(tool.st_ino, dep.st_ino) << "the two links became two files";
  EXPECT_EQ(tool.st_nlink, 2u);
  EXPECT_EQ(slurp(dir / "dst/tree/deps/tool-1a2b"), "elf");
  EXPECT_EQ(lstat_of(dir / "dst/tree/shared").st_nlink, 1u);  // its other link is not copied
  EXPECT_EQ(slurp(dir / "dst/tree/shared"), "s");
}

TEST(MountRoot, TellsAMountPointFromADirectory) {
  TempDir dir;
  std::filesystem::create_directories(dir / "plain");
  int fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
  EXPECT_FALSE(is_mount_root_at(fd, "plain"));
  EXPECT_FALSE(is_mount_root_at(fd, "absent"));
  ::close(fd);
  if (exists_nofollow("/proc/self")) {
    EXPECT_TRUE(is_mount_root_at(AT_FDCWD, "/proc"));
  }
}

}  // namespace
}  // namespace regcache
