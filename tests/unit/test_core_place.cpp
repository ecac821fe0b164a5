// Placing a staged restore onto an existing destination: the merge keeps the
// destination's other files (the same inodes) and takes the cached ones, in one swap.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "regcache/core/place.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_file;

ino_t inode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

TEST(Place, MergesIntoAnExistingDirectoryInOneSwap) {
  TempDir dir;
  write_file(dir / "dest/a", "old a");
  write_file(dir / "dest/b", "only in dest");
  write_file(dir / "dest/sub/x", "dest dir");
  ::symlink("b", (dir / "dest/link").c_str());
  write_file(dir / "stage/a", "cached a");
  write_file(dir / "stage/c", "cached c");
  write_file(dir / "stage/sub/y", "cached y");
  timespec cached[2] = {{1500000000, 0}, {1500000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "stage").c_str(), cached, 0), 0);
  ino_t b_before = inode(dir / "dest/b");

  int parent = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(parent, 0);
  ASSERT_TRUE(place_staged(parent, "stage", dir / "dest").ok());
  ::close(parent);

  EXPECT_EQ(slurp(dir / "dest/a"), "cached a");
  EXPECT_EQ(slurp(dir / "dest/b"), "only in dest");
  EXPECT_EQ(inode(dir / "dest/b"), b_before) << "an existing file was copied, not kept";
  EXPECT_EQ(slurp(dir / "dest/c"), "cached c");
  EXPECT_EQ(slurp(dir / "dest/sub/x"), "dest dir");
  EXPECT_EQ(slurp(dir / "dest/sub/y"), "cached y");
  char target[16] = {};
  ASSERT_GT(::readlink((dir / "dest/link").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "b");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "dest").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1500000000) << "the merged directory takes the cached mtime";
  EXPECT_FALSE(std::filesystem::exists(dir / "stage")) << "the old tree was left behind";
}

TEST(Place, ACachedFileReplacesAnEmptyDirectoryAndTheReverse) {
  TempDir dir;
  std::filesystem::create_directories(dir / "dest/was_dir");
  write_file(dir / "dest/was_file", "x");
  write_file(dir / "stage/was_dir", "now a file");
  write_file(dir / "stage/was_file/inner", "now a dir");
  int parent = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(place_staged(parent, "stage", dir / "dest").ok());
  ::close(parent);
  EXPECT_EQ(slurp(dir / "dest/was_dir"), "now a file");
  EXPECT_EQ(slurp(dir / "dest/was_file/inner"), "now a dir");
}

// Runs place_staged from inside dest, where the swap is refused (the process would be left
// in the old tree), so the merge goes file by file.
Status place_from_inside(int parent, const std::string& dest) {
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dest);
  Status st = place_staged(parent, "stage", dest);
  std::filesystem::current_path(cwd);
  return st;
}

TEST(Place, ACachedFileNeverReplacesADirectoryOfFiles) {
  for (bool swap : {true, false}) {
    TempDir dir;
    write_file(dir / "dest/keep/deep/precious", "the job's");
    write_file(dir / "dest/other", "the job's too");
    write_file(dir / "stage/aa_new", "cached");
    write_file(dir / "stage/keep", "a cached file");
    write_file(dir / "stage/zz_new", "cached");
    int parent = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(parent, 0);
    Status st = swap ? place_staged(parent, "stage", dir / "dest")
                     : place_from_inside(parent, dir / "dest");
    ::close(parent);
    ASSERT_FALSE(st.ok()) << (swap ? "swap" : "file by file");
    EXPECT_EQ(st.error().kind, ErrorKind::exists);
    EXPECT_NE(st.error().message.find(dir / "dest/keep"), std::string::npos) << st.error().message;
    EXPECT_EQ(slurp(dir / "dest/keep/deep/precious"), "the job's");
    EXPECT_EQ(slurp(dir / "dest/other"), "the job's too");
    EXPECT_FALSE(std::filesystem::exists(dir / "dest/aa_new")) << "a merge is all or none";
    EXPECT_FALSE(std::filesystem::exists(dir / "dest/zz_new")) << "a merge is all or none";
  }
}

TEST(Place, AMergeInsideTheDestinationIsAllOrNone) {
  TempDir dir;
  write_file(dir / "dest/sub/keep/precious", "the job's");
  write_file(dir / "dest/.stage/aa_new", "cached");
  write_file(dir / "dest/.stage/sub/aa_new", "cached");
  write_file(dir / "dest/.stage/sub/keep", "a cached file");
  write_file(dir / "dest/.stage/zz_new", "cached");
  int dest = ::open((dir / "dest").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dest, 0);
  Status st = place_staged_inside(dest, ".stage", dir / "dest");
  ::close(dest);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find(dir / "dest/sub/keep"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(slurp(dir / "dest/sub/keep/precious"), "the job's");
  for (const char* n : {"dest/aa_new", "dest/zz_new", "dest/sub/aa_new"})
    EXPECT_FALSE(std::filesystem::exists(dir / n)) << n << ": a merge is all or none";
  EXPECT_EQ(slurp(dir / "dest/.stage/sub/keep"), "a cached file") << "the staging stays whole";
}

}  // namespace
}  // namespace regcache
