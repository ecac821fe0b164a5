// The state file that tells a save which entry the job's restore used: read back as
// written, and nothing taken from a file that holds no digest or is not a regular file.
#include "regcache/core/restore_state.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::TempDir;
using testing::write_file;

TEST(RestoreState, ReadsBackWhatARestoreRecorded) {
  TempDir d;
  const std::string path = d / "state/restored.json";
  const std::string digest = "sha256:" + std::string(64, 'a');
  record_restore(path, "reg/x", {"deps-1", digest});
  auto e = last_restore(path, "reg/x");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, "deps-1");
  EXPECT_EQ(e->digest, digest);
  EXPECT_FALSE(last_restore(path, "reg/other"));
}

TEST(RestoreState, ADigestThatIsNoneOrAFifoIsNotTaken) {
  TempDir d;
  // It goes into a request's path: "../../v2/other/manifests/x" must not.
  write_file(d / "bad.json", R"({"reg/x":{"key":"k","digest":"../../other/manifests/x"}})");
  EXPECT_FALSE(last_restore(d / "bad.json", "reg/x"));
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0);
  EXPECT_FALSE(last_restore(d / "fifo", "reg/x")) << "read (and blocked on) a FIFO";
}

}  // namespace
}  // namespace regcache
