#include "regcache/cli/context.hpp"
#include "regcache/cli/settings.hpp"

#include <gtest/gtest.h>

#include <map>

#include "fake_env.hpp"

namespace regcache {
namespace {

using testing::env_of;

TEST(Settings, DefaultsFromAnAlmostEmptyEnvironment) {
  auto s = read_settings(env_of({{"HOME", "/home/u"}}));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->cache_home, "/home/u/.cache");
  EXPECT_EQ(s->tmpdir, "/tmp");
  EXPECT_EQ(s->state_file, "/home/u/.local/state/regcache/restored.json");
  EXPECT_EQ(s->file_records, "/home/u/.local/state/regcache/files");
  EXPECT_FALSE(s->jobs);
  EXPECT_EQ(s->gc_grace, std::chrono::seconds(3600));
  EXPECT_EQ(s->progress, ProgressChoice::automatic);
  EXPECT_EQ(s->loopback, LoopbackTransport::probe);
}

TEST(Settings, RelativeXdgPathsAndHomeAreIgnored) {
  auto s = read_settings(
      env_of({{"HOME", "relative"}, {"XDG_CACHE_HOME", "cache"}, {"XDG_STATE_HOME", "st"}}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->home, "");
  EXPECT_EQ(s->cache_home, "");
  EXPECT_EQ(s->state_file, "");  // nowhere to keep it: nothing is written
  s = read_settings(env_of({{"HOME", "/h"}, {"XDG_CACHE_HOME", "/c"}, {"RUNNER_TEMP", "/rt"}}));
  EXPECT_EQ(s->cache_home, "/c");
  EXPECT_EQ(s->state_file, "/rt/regcache-state.json");
  EXPECT_EQ(s->file_records, "/h/.local/state/regcache/files");  // kept from job to job
  s = read_settings(env_of({{"HOME", "/h"}, {"REGCACHE_STATE_FILE", "/x/s.json"}}));
  EXPECT_EQ(s->file_records, "/x/regcache-files");
}

TEST(Settings, ValuesAreParsed) {
  auto s = read_settings(env_of({{"REGCACHE_JOBS", "12"},
                                 {"REGCACHE_PACK_SIZE", "8MiB"},
                                 {"REGCACHE_GC_GRACE", "2h"},
                                 {"REGCACHE_PROGRESS", "lines"},
                                 {"REGCACHE_PROGRESS_INTERVAL", "0.5"},
                                 {"REGCACHE_TRACK_USAGE", "0"},
                                 {"REGCACHE_LOOPBACK_TRANSPORT", "https"},
                                 {"GITHUB_WORKSPACE", "/w"},
                                 {"CI_PROJECT_DIR", "/g"}}));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(*s->jobs, 12u);
  EXPECT_EQ(*s->pack_size, 8u << 20);
  EXPECT_EQ(s->gc_grace, std::chrono::hours(2));
  EXPECT_EQ(s->progress, ProgressChoice::lines);
  EXPECT_EQ(s->progress_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(s->track_usage, UsageTracking::off);
  EXPECT_EQ(s->loopback, LoopbackTransport::https);
  EXPECT_EQ(s->workspace, "/w");  // GitHub's first
}

TEST(Settings, MalformedValuesNameTheVariable) {
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"REGCACHE_JOBS", "abc"},
           {"REGCACHE_JOBS", "0"},
           {"REGCACHE_JOBS", "4x"},
           {"REGCACHE_CPU_JOBS", "-1"},
           {"REGCACHE_RETRY_DELAY_MS", "99999999999999999999"},
           {"REGCACHE_STALL_TIMEOUT", "soon"},
           {"REGCACHE_PACK_SIZE", "big"},
           {"REGCACHE_UPLOAD_CHUNK", "12"},
           {"REGCACHE_GC_GRACE", "x"},
           {"REGCACHE_PROGRESS", "fancy"},
           {"REGCACHE_PROGRESS_INTERVAL", "0"},
           {"REGCACHE_TRACK_USAGE", "yes"},
           {"REGCACHE_LOOPBACK_TRANSPORT", "tls"}}) {
    auto s = read_settings(env_of({{name, value}}));
    ASSERT_FALSE(s.ok()) << name << "=" << value;
    EXPECT_EQ(s.error().kind, ErrorKind::usage);
    EXPECT_NE(s.error().message.find(name + "='" + value), std::string::npos) << s.error().message;
  }
}

}  // namespace
}  // namespace regcache

// A registry's transfers each wait a round trip away: more of them at once than for a
// layout, which the machine's own disk and cores bound, or for a registry on this machine,
// where no round trip waits.
TEST(CliContext, RemoteRegistriesGetMoreTransfersThanLayoutsAndLoopback) {
  regcache::GlobalOptions g;
  g.store = "oci:/tmp/regcache-unit-layout";
  EXPECT_EQ(regcache::default_transfers(g, 4), 4u);
  g.store = "registry.example/acme/cache";
  EXPECT_EQ(regcache::default_transfers(g, 4), regcache::kRegistryTransfers);
  EXPECT_GT(regcache::kRegistryTransfers, 4u);
  for (const char* local :
       {"127.0.0.1:5000/acme/cache", "localhost:5000/acme/cache", "[::1]:5000/acme/cache"}) {
    g.store = local;
    EXPECT_EQ(regcache::default_transfers(g, 4), 4u) << local;
  }
  g.store = "127.example:5000/acme/cache";  // a name, not an address
  EXPECT_EQ(regcache::default_transfers(g, 4), regcache::kRegistryTransfers);
}
