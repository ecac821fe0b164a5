#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "regcache/format/fingerprint.hpp"
#include "regcache/util/walk.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::TempDir;
using regcache::testing::write_file;

namespace {
std::string fingerprint_of(const TempDir& d) {
  auto entries = walk_tree(d / "t", "ws/t", nullptr).value();
  Pack all;
  for (size_t i = 0; i < entries.size(); ++i) all.entries.push_back(i);
  return pack_fingerprint(entries, all).value();
}

void set_mtime(const std::string& path, long sec, long nsec) {
  timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}
}  // namespace

TEST(Fingerprint, StableForUnchangedFiles) {
  TempDir d;
  write_file(d / "t/a", "alpha");
  write_file(d / "t/b/c", "gamma");
  set_mtime(d / "t/b", 1000, 1);
  set_mtime(d / "t", 1000, 2);
  EXPECT_EQ(fingerprint_of(d), fingerprint_of(d));
  EXPECT_EQ(fingerprint_of(d).rfind("xxh3-128-entries:", 0), 0u);
}

TEST(Fingerprint, ContentChangeWithSameSizeAndMtimeIsSeen) {
  TempDir d;
  write_file(d / "t/a", "alpha");
  set_mtime(d / "t/a", 1000, 5);
  set_mtime(d / "t", 1000, 2);
  auto before = fingerprint_of(d);
  write_file(d / "t/a", "ALPHA");
  set_mtime(d / "t/a", 1000, 5);
  set_mtime(d / "t", 1000, 2);
  EXPECT_NE(before, fingerprint_of(d));
}

TEST(Fingerprint, MetadataChangesAreSeen) {
  TempDir d;
  write_file(d / "t/a", "alpha");
  set_mtime(d / "t", 1000, 2);
  auto base = fingerprint_of(d);
  set_mtime(d / "t/a", 1234, 1);
  set_mtime(d / "t", 1000, 2);
  auto touched = fingerprint_of(d);
  EXPECT_NE(base, touched);
  ::chmod((d / "t/a").c_str(), 0600);
  EXPECT_NE(touched, fingerprint_of(d));
}
