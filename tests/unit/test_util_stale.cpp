#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>

#include "regcache/util/fd.hpp"
#include "regcache/util/stale.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::exists_nofollow;
using regcache::testing::TempDir;
using regcache::testing::write_file;

namespace {

// Gives path an mtime `seconds` in the past.
void age(const std::string& path, int seconds) {
  timespec ts[2] = {{std::time(nullptr) - seconds, 0}, {std::time(nullptr) - seconds, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// Returns a pid that no longer runs (a "killed run").
pid_t dead_pid() {
  pid_t child = ::fork();
  if (child == 0) _exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

const std::string kForeignNs = "4026500000";

}  // namespace

TEST(Stale, RemovesOnlyLeftoversOfDeadProcessesOfThisNamespace) {
  TempDir d;
  pid_t child = dead_pid();
  std::string dead = d / temp_name_of(".regcache-stage-", child);
  std::string mine = d / owned_temp_name(".regcache-stage-");
  write_file(dead + "/half/restored", "x");
  write_file(mine + "/in/progress", "y");
  write_file(d / ".regcache-stage-notapid", "z");
  write_file(d / "unrelated", "w");
  age(dead, 3600);
  age(mine, 3600);
  EXPECT_EQ(remove_stale(d.path(), ".regcache-stage-"), 1);
  EXPECT_FALSE(exists_nofollow(dead));
  EXPECT_TRUE(exists_nofollow(mine));  // this process runs: never judged by age
  EXPECT_TRUE(exists_nofollow(d / ".regcache-stage-notapid"));
  EXPECT_TRUE(exists_nofollow(d / "unrelated"));
}

// A machine sharing the directory over NFS has the same initial namespace: a dead pid here
// may be its live writer, which holds the entry's lock.
TEST(Stale, ADeadPidsEntryThatIsHeldStays) {
  TempDir d;
  std::string entry = d / temp_name_of(".regcache-tmp-", dead_pid());
  write_file(entry, "in flight elsewhere");
  UniqueFd writer(::open(entry.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(hold_temp(writer.get()));
  EXPECT_EQ(remove_stale(d.path(), ".regcache-tmp-"), 0);
  EXPECT_TRUE(exists_nofollow(entry));
  writer.reset();
  EXPECT_EQ(remove_stale(d.path(), ".regcache-tmp-"), 1);
  EXPECT_FALSE(exists_nofollow(entry));
}

// A container sharing the directory: its pids mean nothing here, only its locks do.
TEST(Stale, AnotherNamespacesEntryGoesOnlyWhenUnheldAndOld) {
  TempDir d;
  pid_t child = dead_pid();  // dead here, but in the other namespace it may well run
  auto name = [&](const char* tail) {
    return d / (".regcache-tmp-" + std::to_string(child) + "-" + kForeignNs + "-" + tail);
  };
  write_file(name("held"), "in flight");
  write_file(name("young"), "just made");
  write_file(name("left/over"), "killed");
  write_file(name("leftfile"), "killed");
  age(name("held"), 3600);
  age(name("left"), kForeignGraceSeconds + 1);
  age(name("leftfile"), kForeignGraceSeconds + 1);
  UniqueFd writer(::open(name("held").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(hold_temp(writer.get()));
  EXPECT_EQ(remove_stale(d.path(), ".regcache-tmp-"), 2);
  EXPECT_TRUE(exists_nofollow(name("held")));
  EXPECT_TRUE(exists_nofollow(name("young")));
  EXPECT_FALSE(exists_nofollow(name("left")));
  EXPECT_FALSE(exists_nofollow(name("leftfile")));
  writer.reset();  // the writer is gone
  EXPECT_EQ(remove_stale(d.path(), ".regcache-tmp-"), 1);
  EXPECT_FALSE(exists_nofollow(name("held")));
}

TEST(Stale, HeldEntriesStayHeldThroughTheirHolder) {
  TempDir d;
  std::string entry = d / (".regcache-stage-1-" + kForeignNs + "-x");
  write_file(entry + "/f", "data");
  age(entry, 3600);
  {
    TempHolds holds;
    UniqueFd fd(::open(entry.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    holds.keep(fd.get());
    fd.reset();  // the holder keeps its own descriptor
    EXPECT_EQ(remove_stale(d.path(), ".regcache-stage-"), 0);
    EXPECT_TRUE(exists_nofollow(entry));
  }
  EXPECT_EQ(remove_stale(d.path(), ".regcache-stage-"), 1);
  EXPECT_FALSE(exists_nofollow(entry));
}

// A name that is not a regular file or a directory is never opened as one (a FIFO would hang).
TEST(Stale, OnlyFilesAndDirectoriesAreJudged) {
  TempDir d;
  std::string fifo = d / (".regcache-tmp-1-" + kForeignNs + "-fifo");
  std::string link = d / (".regcache-tmp-1-" + kForeignNs + "-link");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::symlink("/etc", link.c_str()), 0);
  age(fifo, 3600);
  EXPECT_EQ(remove_stale(d.path(), ".regcache-tmp-"), 0);
  EXPECT_TRUE(exists_nofollow(fifo));
  EXPECT_TRUE(exists_nofollow(link));
}
