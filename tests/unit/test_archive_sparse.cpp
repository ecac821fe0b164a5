// Sparse files: stored with their holes (GNU sparse 1.0), read back hole for hole, with
// the same bytes whatever the filesystem allocated; malformed maps are refused.
#include "regcache/archive/sparse.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regcache/archive/extractor.hpp"
#include "regcache/archive/tar_reader.hpp"
#include "regcache/archive/tar_writer.hpp"
#include "regcache/util/walk.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::TempDir;

namespace {

constexpr uint64_t MiB = 1 << 20;

// Writes a file of `size` bytes holding `chunks` (offset, content) and holes elsewhere.
void make_sparse(const std::string& path, uint64_t size,
                 const std::vector<std::pair<uint64_t, std::string>>& chunks) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  for (const auto& [off, data] : chunks)
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(off)),
              static_cast<ssize_t>(data.size()));
  ::close(fd);
}

std::string tar_of_dir(const std::string& dir, const std::string& root) {
  auto entries = walk_tree(dir, root, nullptr);
  EXPECT_TRUE(entries.ok());
  StringSink out;
  TarWriter w(&out);
  for (const auto& e : entries.value()) EXPECT_TRUE(w.add(e).ok()) << e.path;
  EXPECT_TRUE(w.close().ok());
  return out.str();
}

uint64_t allocated(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

bool has_holes(const std::string& path) {
  return allocated(path) + 64 * 1024 < std::filesystem::file_size(path);
}

}  // namespace

TEST(Sparse, RoundTripKeepsContentAndHoles) {
  TempDir d;
  std::filesystem::create_directories(d / "src");
  make_sparse(d / "src/big", 100 * MiB,
              {{10 * MiB, std::string(5000, 'x')}, {50 * MiB + 100, std::string(70000, 'y')}});
  make_sparse(d / "src/tail", 1 * MiB, {{0, "head"}});
  make_sparse(d / "src/all-hole", 1 * MiB, {});
  if (!has_holes(d / "src/big")) GTEST_SKIP() << "this filesystem does not keep holes";
  std::string tar = tar_of_dir(d / "src", "ws/src");
  EXPECT_LT(tar.size(), 200 * 1024u) << "the holes were stored";
  EXPECT_NE(tar.find("GNU.sparse.major=1"), std::string::npos);

  std::filesystem::create_directories(d / "dest");
  int parent = ::open((d / "dest").c_str(), O_RDONLY | O_DIRECTORY);
  DirFixups fixups;
  Extractor ex({{"ws/src", parent, "out"}}, ExternalSymlinks::refuse, &fixups);
  TarReader reader(&ex);
  for (size_t i = 0; i < tar.size(); i += 777)
    ASSERT_TRUE(reader.write(tar.data() + i, std::min<size_t>(777, tar.size() - i)).ok());
  ASSERT_TRUE(reader.finish().ok());
  ASSERT_TRUE(fixups.apply().ok());
  ::close(parent);
  for (const char* name : {"big", "tail", "all-hole"}) {
    std::string a = d / (std::string("src/") + name), b = d / (std::string("dest/out/") + name);
    EXPECT_EQ(std::filesystem::file_size(a), std::filesystem::file_size(b)) << name;
    EXPECT_EQ(regcache::testing::slurp(a), regcache::testing::slurp(b)) << name;
    EXPECT_LE(allocated(b), allocated(a) + 64 * 1024) << name << ": holes filled in";
  }
}

TEST(Sparse, AMapOfManyBlocksIsReadWhole) {
  // 3,000 segments: a map of some 50 KiB, which the reader takes a block at a time and
  // parses once it holds as many lines as its first says.
  TempDir d;
  std::filesystem::create_directories(d / "src");
  std::vector<std::pair<uint64_t, std::string>> chunks;
  for (uint64_t i = 0; i < 3000; ++i)
    chunks.push_back({i * 16384 + 8192, std::string(4096, static_cast<char>('a' + i % 26))});
  make_sparse(d / "src/many", 3000 * 16384, chunks);
  if (!has_holes(d / "src/many")) GTEST_SKIP() << "this filesystem does not keep holes";
  std::string tar = tar_of_dir(d / "src", "ws/src");
  ASSERT_NE(tar.find("GNU.sparse.major=1"), std::string::npos);
  std::filesystem::create_directories(d / "dest");
  int parent = ::open((d / "dest").c_str(), O_RDONLY | O_DIRECTORY);
  DirFixups fixups;
  Extractor ex({{"ws/src", parent, "out"}}, ExternalSymlinks::refuse, &fixups);
  TarReader reader(&ex);
  for (size_t i = 0; i < tar.size(); i += 300)
    ASSERT_TRUE(reader.write(tar.data() + i, std::min<size_t>(300, tar.size() - i)).ok());
  ASSERT_TRUE(reader.finish().ok());
  ASSERT_TRUE(fixups.apply().ok());
  ::close(parent);
  EXPECT_EQ(regcache::testing::slurp(d / "src/many"),
            regcache::testing::slurp(d / "dest/out/many"));
}

TEST(Sparse, TheSameContentGivesTheSameBytes) {
  TempDir d;
  for (const char* dir : {"one", "two"}) {
    std::filesystem::create_directories(d / dir);
    // The same content; in "two" a zero block is written out (allocated) rather than left
    // a hole: the map depends on the content, so the archives are equal.
    make_sparse(d / (std::string(dir) + "/f"), 4 * MiB, {{MiB, std::string(9000, 'q')}});
    if (std::string(dir) == "two")
      make_sparse(d / "two/f", 4 * MiB,
                  {{MiB, std::string(9000, 'q')}, {3 * MiB, std::string(4096, '\0')}});
  }
  if (!has_holes(d / "one/f")) GTEST_SKIP() << "this filesystem does not keep holes";
  timespec ts[2] = {{1600000000, 5}, {1600000000, 5}};
  for (const char* p : {"one/f", "two/f", "one", "two"})
    ::utimensat(AT_FDCWD, (d / p).c_str(), ts, 0);
  std::string one = tar_of_dir(d / "one", "ws/x"), two = tar_of_dir(d / "two", "ws/x");
  EXPECT_EQ(one.size(), two.size());
  EXPECT_TRUE(one == two) << "the archives differ";  // (not EXPECT_EQ: it would print both)
}

// Data is found in whole 4 KiB blocks: a 4 KiB block whose only data is a 512-byte run in
// its middle is one 4096-byte segment, not a 512-byte one.
TEST(Sparse, DataIsMappedInWholeFourKiBBlocks) {
  TempDir d;
  std::string block(kSparseBlock, '\0');
  block.replace(1024, 512, std::string(512, 'z'));
  make_sparse(d / "f", 4 * MiB, {{MiB, block}});
  if (!has_holes(d / "f")) GTEST_SKIP() << "this filesystem does not keep holes";
  int fd = ::open((d / "f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  auto found = find_sparse_data(fd, 4 * MiB, d / "f");
  ::close(fd);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  const auto& segs = (*found)->segments;
  ASSERT_GE(segs.size(), 1u);
  EXPECT_EQ(segs[0].offset, MiB);
  EXPECT_EQ(segs[0].length, kSparseBlock);
}

TEST(Sparse, SmallOrDenseFilesAreStoredWhole) {
  TempDir d;
  std::filesystem::create_directories(d / "s");
  regcache::testing::write_file(d / "s/dense", std::string(200000, '\0'));  // zeros, but allocated
  make_sparse(d / "s/small", 32 * 1024, {{0, "a"}});                        // under 64 KiB
  std::string tar = tar_of_dir(d / "s", "ws/s");
  EXPECT_EQ(tar.find("GNU.sparse"), std::string::npos);
}

TEST(Sparse, MapsAreCheckedWhenRead) {
  auto parse = [](const std::string& text, uint64_t size) {
    return parse_sparse_map(text, size, 100);
  };
  auto padded = [](std::string s) {
    s.resize((s.size() + 511) / 512 * 512, '\0');
    return s;
  };
  auto ok = parse(padded("2\n0\n10\n100\n5\n"), 200);
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok->has_value());
  EXPECT_EQ((*ok)->first.segments.size(), 2u);
  EXPECT_EQ((*ok)->second, 512u);
  EXPECT_FALSE(parse("2\n0\n1", 200).value().has_value()) << "incomplete: wait for more";
  for (const char* bad : {"2\n10\n5\n0\n5\n",                 // out of order
                          "1\n190\n20\n",                     // past the end
                          "1\n-1\n5\n",                       // not a number
                          "101\n",                            // too many segments
                          "1\n18446744073709551615\n2\n"}) {  // wraps around
    EXPECT_FALSE(parse(padded(bad), 200).ok()) << bad;
  }
}

TEST(Sparse, AFileLargerThanTheEntryDeclaresIsRefused) {
  TempDir d;
  std::filesystem::create_directories(d / "src");
  make_sparse(d / "src/big", 100 * MiB, {{MiB, "data"}});
  if (!has_holes(d / "src/big")) GTEST_SKIP() << "this filesystem does not keep holes";
  std::string tar = tar_of_dir(d / "src", "ws/src");
  std::filesystem::create_directories(d / "dest");
  int parent = ::open((d / "dest").c_str(), O_RDONLY | O_DIRECTORY);
  DirFixups fixups;
  Extractor ex({{"ws/src", parent, "out"}}, ExternalSymlinks::refuse, &fixups);
  ex.limit_file_size(10 * MiB);  // what a lying manifest would declare
  TarReader reader(&ex);
  Status st = reader.write(tar.data(), tar.size());
  ::close(parent);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::hostile);
  EXPECT_NE(st.error().message.find("sparse file larger"), std::string::npos) << st.error().message;
}
