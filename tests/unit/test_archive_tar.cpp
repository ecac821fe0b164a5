#include <fcntl.h>
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "raw_tar.hpp"
#include "regcache/archive/tar_reader.hpp"
#include "regcache/archive/tar_writer.hpp"
#include "regcache/util/walk.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::TempDir;

namespace {

struct Recorded {
  TarHeader header;
  std::string content;
};

class Recorder : public TarEntryHandler {
 public:
  Status begin(const TarHeader& h) override {
    entries.push_back({h, ""});
    return {};
  }
  Status data(const char* d, size_t n) override {
    entries.back().content.append(d, n);
    return {};
  }
  Status end() override { return {}; }
  std::vector<Recorded> entries;
};

std::string tar_of(const std::vector<FileEntry>& entries) {
  StringSink out;
  TarWriter w(&out);
  for (const auto& e : entries) EXPECT_TRUE(w.add(e).ok()) << e.path;
  EXPECT_TRUE(w.close().ok());
  return out.str();
}

std::vector<Recorded> read_back(const std::string& tar, size_t piece) {
  Recorder rec;
  TarReader reader(&rec);
  for (size_t i = 0; i < tar.size(); i += piece) {
    auto st = reader.write(tar.data() + i, std::min(piece, tar.size() - i));
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  EXPECT_TRUE(reader.finish().ok());
  return rec.entries;
}

std::vector<FileEntry> sample_tree(const TempDir& dir) {
  regcache::testing::write_file(dir / "t/a.txt", "alpha");
  regcache::testing::write_file(dir / "t/empty", "");
  std::string long_name = "t/" + std::string(120, 'x') + "/" + std::string(90, 'y') + ".bin";
  regcache::testing::write_file(dir / long_name, std::string(70000, 'z'));
  regcache::testing::write_file(dir / "t/données/été.txt", "accents");
  ::symlink("a.txt", (dir / "t/link").c_str());
  ::link((dir / "t/a.txt").c_str(), (dir / "t/hard").c_str());
  std::filesystem::create_directories(dir / "t/emptydir");
  timespec ts[2] = {{1600000000, 123456789}, {1600000000, 123456789}};
  ::utimensat(AT_FDCWD, (dir / "t/a.txt").c_str(), ts, 0);
  auto entries = walk_tree(dir / "t", "ws/t", nullptr);
  EXPECT_TRUE(entries.ok());
  return entries.value();
}

// Adds the entries in order until one fails; returns the first failure.
Status tar_add_all(TarWriter& w, const std::vector<FileEntry>& entries) {
  for (const auto& e : entries) RC_CHECK(w.add(e));
  return {};
}

}  // namespace

TEST(Tar, RoundTripKeepsEverything) {
  TempDir dir;
  auto entries = sample_tree(dir);
  std::string tar = tar_of(entries);
  EXPECT_EQ(tar.size() % 512, 0u);
  for (size_t piece : {size_t{1}, size_t{511}, size_t{4096}, tar.size()}) {
    auto back = read_back(tar, piece);
    ASSERT_EQ(back.size(), entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      const auto& h = back[i].header;
      EXPECT_EQ(h.path, e.type == FileType::directory ? e.path + "/" : e.path);
      EXPECT_EQ(h.mode, e.mode);
      EXPECT_EQ(h.mtime_sec, e.mtime_sec) << e.path;
      EXPECT_EQ(h.mtime_nsec, e.mtime_nsec) << e.path;
      EXPECT_EQ(h.linkpath, e.link_target);
      if (e.type == FileType::regular) {
        EXPECT_EQ(back[i].content, regcache::testing::slurp(regcache::source_of(e)));
      }
    }
  }
}

TEST(Tar, TypesAndHardLinks) {
  TempDir dir;
  auto entries = sample_tree(dir);
  auto back = read_back(tar_of(entries), 512);
  std::map<std::string, char> types;
  std::map<std::string, std::string> links;
  for (const auto& r : back) {
    types[r.header.path] = r.header.typeflag;
    links[r.header.path] = r.header.linkpath;
  }
  EXPECT_EQ(types["ws/t/link"], '2');
  EXPECT_EQ(links["ws/t/link"], "a.txt");
  EXPECT_EQ(types["ws/t/hard"], '1');  // the second name of a.txt's inode
  EXPECT_EQ(links["ws/t/hard"], "ws/t/a.txt");
  EXPECT_EQ(types["ws/t/a.txt"], '0');
  EXPECT_EQ(types["ws/t/emptydir/"], '5');
}

TEST(Tar, DeterministicBytes) {
  TempDir dir;
  auto entries = sample_tree(dir);
  const std::string before = tar_of(entries);
  EXPECT_EQ(before, tar_of(entries));
  timespec ts[2] = {{1600000000, 123456790}, {1600000000, 123456790}};  // a nanosecond later
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "t/a.txt").c_str(), ts, 0), 0);
  auto changed = walk_tree(dir / "t", "ws/t", nullptr);
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(before, tar_of(*changed));
}

// pax writes times as signed decimals (-1.25 is 1.25 s before the epoch); the ustar field
// holds 11 octal digits, so a time past 2242 needs the pax record too.
TEST(Tar, MtimesBeforeTheEpochAndPastUstarAreWrittenAsPaxSays) {
  struct Case {
    int64_t sec;
    uint32_t nsec;
    std::string pax;
  };
  const std::vector<Case> cases = {
      {-124, 543210988, "mtime=-123.456789012\n"},  // -123.456789012 s
      {-1, 500000000, "mtime=-0.500000000\n"},
      {-7, 0, "mtime=-7.000000000\n"},
      {15032385535, 0, "mtime=15032385535.000000000\n"},  // 2446, past 077777777777
      {8589934591, 0, ""},                                // the last ustar second: no pax
  };
  for (const auto& c : cases) {
    FileEntry e;
    e.path = "ws/d";
    e.type = FileType::directory;
    e.mode = 0755;
    e.mtime_sec = c.sec;
    e.mtime_nsec = c.nsec;
    const std::string tar = tar_of({e});
    if (c.pax.empty()) {
      EXPECT_EQ(tar.find("mtime="), std::string::npos) << c.sec;
    } else {
      EXPECT_NE(tar.find(c.pax), std::string::npos) << c.pax;
    }
    auto back = read_back(tar, 512);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].header.mtime_sec, c.sec) << c.pax;
    EXPECT_EQ(back[0].header.mtime_nsec, c.nsec) << c.pax;
  }
}

TEST(Tar, ReaderTakesNegativePaxTimesAsOtherWritersMeanThem) {
  const std::pair<std::string, std::pair<int64_t, uint32_t>> cases[] = {
      {"-1.25", {-2, 750000000}},
      {"-0.5", {-1, 500000000}},
      {"-3", {-3, 0}},
      {"12.5", {12, 500000000}},
  };
  for (const auto& [text, want] : cases) {
    const std::string body = " mtime=" + text + "\n";
    size_t len = body.size() + 1;
    while (std::to_string(len).size() + body.size() != len) ++len;
    regcache::testing::RawTar raw;
    raw.add("PaxHeader", 'x', std::to_string(len) + body).add("d/", '5');
    auto back = read_back(raw.bytes(), 512);
    ASSERT_EQ(back.size(), 1u) << text;
    EXPECT_EQ(back[0].header.mtime_sec, want.first) << text;
    EXPECT_EQ(back[0].header.mtime_nsec, want.second) << text;
  }
}

TEST(Tar, ReaderRefusesPaxLengthsThatWrapAround) {
  // The third length is 2^64 - 12: added to its position (24) it wraps to 12, the end of
  // the first record; read that way the last two records repeat for ever.
  const std::string wraps = "12 path=abc\n12 path=def\n18446744073709551604 path=x\n";
  const std::string past_end = "12 path=abc\n18446744073709551604 path=x\n";  // 2^64 - pos
  const std::string trailing = "12x path=abc\n";  // a length not followed by its space
  for (const auto& records : {wraps, past_end, trailing}) {
    regcache::testing::RawTar raw;
    raw.add("PaxHeader", 'x', records).add("f", '0', "x");
    Recorder rec;
    TarReader reader(&rec);
    auto tar = raw.bytes();
    auto st = reader.write(tar.data(), tar.size());
    ASSERT_FALSE(st.ok()) << records;
    EXPECT_EQ(st.error().kind, ErrorKind::integrity) << records;
    EXPECT_NE(st.error().message.find("pax record length"), std::string::npos)
        << st.error().message;
  }
}

TEST(Tar, ReaderRejectsCorruptHeader) {
  TempDir dir;
  auto tar = tar_of(sample_tree(dir));
  tar[10] ^= 0x55;  // inside the first header's name: checksum no longer matches
  Recorder rec;
  TarReader reader(&rec);
  auto st = reader.write(tar.data(), tar.size());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("checksum"), std::string::npos);
}

TEST(Tar, ReaderRejectsTruncatedStream) {
  TempDir dir;
  auto tar = tar_of(sample_tree(dir));
  Recorder rec;
  TarReader reader(&rec);
  ASSERT_TRUE(reader.write(tar.data(), tar.size() / 2 + 7).ok());
  EXPECT_FALSE(reader.finish().ok());
}

TEST(Tar, FileThatShrankIsAnError) {
  TempDir dir;
  regcache::testing::write_file(dir / "f", "12345");
  auto entries = walk_tree(dir / "f", "ws/f", nullptr).value();
  regcache::testing::write_file(dir / "f", "12");
  StringSink out;
  TarWriter w(&out);
  EXPECT_FALSE(w.add(entries[0]).ok());
}

// A file written since the walk (grown, or rewritten in place at the same size) would be
// stored cut to the walk's size, or under the walk's time: the save refuses it.
TEST(Tar, AFileWrittenSinceTheWalkIsRefused) {
  for (const std::string& now : {std::string("1234567"), std::string("54321")}) {
    TempDir dir;
    regcache::testing::write_file(dir / "t/f", "12345");
    timespec then[2] = {{1600000000, 0}, {1600000000, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "t/f").c_str(), then, 0), 0);
    auto entries = walk_tree(dir / "t", "ws/t", nullptr);
    ASSERT_TRUE(entries.ok());
    regcache::testing::write_file(dir / "t/f", now);  // a new mtime, as any write gives
    StringSink out;
    TarWriter w(&out);
    Status st = tar_add_all(w, entries.value());
    ASSERT_FALSE(st.ok()) << now;
    EXPECT_NE(st.error().message.find("changed while saving"), std::string::npos)
        << st.error().message;
  }
}

// Writes into a file while the tar writer reads it (halfway through its bytes).
class WritingMidwaySink : public Sink {
 public:
  WritingMidwaySink(std::string path, uint64_t at) : path_(std::move(path)), at_(at) {}
  Status write(const char*, size_t size) override {
    seen_ += size;
    if (!done_ && seen_ >= at_) {
      done_ = true;
      int fd = ::open(path_.c_str(), O_WRONLY);
      EXPECT_EQ(::pwrite(fd, "changed", 7, 0), 7);
      ::close(fd);
    }
    return {};
  }

 private:
  std::string path_;
  uint64_t at_, seen_ = 0;
  bool done_ = false;
};

TEST(Tar, AFileWrittenWhileItIsReadIsRefused) {
  TempDir dir;
  regcache::testing::write_file(dir / "t/big", std::string(4 << 20, 'b'));
  timespec then[2] = {{1600000000, 0}, {1600000000, 0}};  // any write now gives another time
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "t/big").c_str(), then, 0), 0);
  auto entries = walk_tree(dir / "t", "ws/t", nullptr);
  ASSERT_TRUE(entries.ok());
  WritingMidwaySink out(dir / "t/big", 2 << 20);
  TarWriter w(&out);
  Status st = tar_add_all(w, entries.value());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("written while it was read"), std::string::npos)
      << st.error().message;
}

// Issue 17 (3): a file is read only when it is still the inode the walk found, so a
// directory swapped for a link between walk and pack cannot put another file in the cache.
TEST(Tar, AFileSwappedAfterTheWalkIsRefused) {
  TempDir dir;
  regcache::testing::write_file(dir / "t/sub/data", "mine");
  regcache::testing::write_file(dir / "secret/data", "root only");
  auto entries = walk_tree(dir / "t", "ws/t", nullptr);
  ASSERT_TRUE(entries.ok());
  std::filesystem::remove_all(dir / "t/sub");
  ASSERT_EQ(::symlink((dir / "secret").c_str(), (dir / "t/sub").c_str()), 0);
  StringSink out;
  TarWriter w(&out);
  Status st = tar_add_all(w, entries.value());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("changed while saving"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(out.str().find("root only"), std::string::npos) << "the other file's bytes were stored";
}
