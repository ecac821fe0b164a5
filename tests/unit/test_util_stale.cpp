#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "regcache/util/stale.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::exists_nofollow;
using regcache::testing::TempDir;
using regcache::testing::write_file;

TEST(Stale, RemovesOnlyLeftoversOfDeadProcesses) {
  TempDir d;
  pid_t child = ::fork();
  if (child == 0) _exit(0);
  ::waitpid(child, nullptr, 0);  // its pid is now free: a "killed run"
  std::string dead = d / temp_name_of(".regcache-stage-", child);
  // The same pid in another PID namespace (a container sharing the directory): not ours to judge.
  std::string foreign = d / (".regcache-stage-" + std::to_string(child) + "-4026500000-abc");
  std::string mine = d / owned_temp_name(".regcache-stage-");
  write_file(dead + "/half/restored", "x");
  write_file(foreign + "/in/progress", "f");
  write_file(mine + "/in/progress", "y");
  write_file(d / ".regcache-stage-notapid", "z");
  write_file(d / "unrelated", "w");
  EXPECT_EQ(remove_stale(d.path(), ".regcache-stage-"), 1);
  EXPECT_FALSE(exists_nofollow(dead));
  EXPECT_TRUE(exists_nofollow(foreign));
  EXPECT_TRUE(exists_nofollow(mine));
  EXPECT_TRUE(exists_nofollow(d / ".regcache-stage-notapid"));
  EXPECT_TRUE(exists_nofollow(d / "unrelated"));
}
