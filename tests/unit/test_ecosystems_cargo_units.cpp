// The rust preset's "not used in this build" rule: restored units whose fingerprint files
// were not read since the restore are left out; units read or rebuilt stay.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "regcache/ecosystems/cargo_units.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::slurp;
using testing::TempDir;
using testing::write_file;

// Makes a file look as a restore leaves it: mtime and atime long ago (ctime is now).
void as_restored(const std::string& path) {
  timespec old[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class CargoUnits : public ::testing::Test {
 protected:
  void SetUp() override {
    if (probe_atime(dir.path()) == AtimeSupport::frozen) GTEST_SKIP() << "noatime filesystem";
    for (const std::string unit : {"used-1111", "unused-2222"}) {
      write_file(dir / ("debug/.fingerprint/" + unit + "/lib-x"), "fp");
      write_file(dir / ("debug/build/" + unit + "/out/x"), "out");
      std::string crate = unit.substr(0, unit.find('-'));
      write_file(dir / ("debug/deps/lib" + crate + "-" + unit.substr(unit.find('-') + 1) + ".rlib"),
                 "rlib");
      as_restored(dir / ("debug/.fingerprint/" + unit + "/lib-x"));
    }
  }
  TempDir dir;
};

TEST_F(CargoUnits, RestoredUnitsNotReadSinceAreUnused) {
  slurp(dir / "debug/.fingerprint/used-1111/lib-x");  // cargo checks this unit's fingerprint
  auto out = unused_restored_units({dir / "debug"});
  EXPECT_TRUE(has(out, dir / "debug/.fingerprint/unused-2222"));
  EXPECT_TRUE(has(out, dir / "debug/build/unused-2222"));
  EXPECT_TRUE(has(out, dir / "debug/deps/libunused-2222.rlib"));
  EXPECT_FALSE(has(out, dir / "debug/.fingerprint/used-1111"));
  EXPECT_FALSE(has(out, dir / "debug/deps/libused-1111.rlib"));
}

TEST_F(CargoUnits, ARebuiltUnitCountsAsUsed) {
  write_file(dir / "debug/.fingerprint/used-1111/lib-x", "new fingerprint");  // rewritten
  auto out = unused_restored_units({dir / "debug"});
  EXPECT_FALSE(has(out, dir / "debug/.fingerprint/used-1111"));
  EXPECT_TRUE(has(out, dir / "debug/.fingerprint/unused-2222"));
}

TEST_F(CargoUnits, NothingIsDroppedWhenNoBuildRanSinceTheRestore) {
  EXPECT_TRUE(unused_restored_units({dir / "debug"}).empty());
}

}  // namespace
}  // namespace regcache
