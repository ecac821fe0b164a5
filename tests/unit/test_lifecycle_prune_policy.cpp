#include <gtest/gtest.h>

#include "regcache/lifecycle/prune_policy.hpp"

using namespace regcache;
using std::chrono::hours;

namespace {

TimePoint day(int d, int h = 0) {
  return *parse_rfc3339("2026-01-01T00:00:00Z") + hours(24 * d + h);
}

PruneEntry entry(std::string key, TimePoint created, std::map<std::string, uint64_t> blobs = {}) {
  PruneEntry e;
  e.key = std::move(key);
  e.created = created;
  e.blobs = blobs.empty() ? std::map<std::string, uint64_t>{{"sha256:" + e.key, 100}} : blobs;
  return e;
}

std::vector<std::string> removed(const std::vector<PruneEntry>& e, const PrunePlan& p) {
  std::vector<std::string> out;
  for (size_t i : p.remove) out.push_back(e[i].key);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(PrunePolicy, OlderThan) {
  std::vector<PruneEntry> e = {entry("old", day(0)), entry("mid", day(4, 12)),
                               entry("new", day(9))};
  PrunePolicy p;
  p.older_than = std::chrono::hours(24 * 7);
  auto plan = plan_prune(e, p, day(10));
  EXPECT_EQ(removed(e, plan), std::vector<std::string>{"old"});
  EXPECT_EQ(plan.kept, 2u);
  EXPECT_EQ(plan.freed_bytes, 100u);
  p.older_than = std::chrono::hours(36);
  EXPECT_EQ(removed(e, plan_prune(e, p, day(10))), (std::vector<std::string>{"mid", "old"}));
}

TEST(PrunePolicy, KeepPerGroupIgnoresEntriesInNoGroup) {
  std::vector<PruneEntry> e = {entry("misc", day(0)),    entry("linux-0", day(1)),
                               entry("linux-1", day(2)), entry("linux-2", day(3)),
                               entry("mac-0", day(5)),   entry("mac-1", day(6))};
  PrunePolicy p;
  p.keep = 1;
  p.group_by = {"linux-", "mac-"};
  EXPECT_EQ(removed(e, plan_prune(e, p, day(10))),
            (std::vector<std::string>{"linux-0", "linux-1", "mac-0"}));
  p.group_by.clear();  // one group
  p.keep = 2;
  EXPECT_EQ(removed(e, plan_prune(e, p, day(10))),
            (std::vector<std::string>{"linux-0", "linux-1", "linux-2", "misc"}));
}

TEST(PrunePolicy, LongestGroupPrefixWins) {
  std::vector<PruneEntry> e = {entry("a-x-1", day(1)), entry("a-x-2", day(2)),
                               entry("a-1", day(3))};
  PrunePolicy p;
  p.keep = 1;
  p.group_by = {"a-", "a-x-"};
  EXPECT_EQ(removed(e, plan_prune(e, p, day(10))), std::vector<std::string>{"a-x-1"});
}

TEST(PrunePolicy, PrefixLimitsConsideredEntries) {
  std::vector<PruneEntry> e = {entry("linux-old", day(0)), entry("mac-old", day(0)),
                               entry("linux-new", day(9))};
  PrunePolicy p;
  p.prefix = "linux-";
  p.older_than = hours(24);
  auto plan = plan_prune(e, p, day(10));
  EXPECT_EQ(removed(e, plan), std::vector<std::string>{"linux-old"});
  EXPECT_EQ(plan.kept, 1u);
}

TEST(PrunePolicy, MaxSizeCountsSharedBlobsOnce) {
  std::vector<PruneEntry> e = {entry("A", day(0), {{"s", 200}, {"a", 200}}),
                               entry("B", day(1), {{"s", 200}, {"b", 200}}),
                               entry("C", day(2), {{"s", 200}, {"c", 200}})};
  PrunePolicy p;
  p.max_size = 650;  // C+B share s: 600 fit, A would make 800
  auto plan = plan_prune(e, p, day(5));
  EXPECT_EQ(removed(e, plan), std::vector<std::string>{"A"});
  EXPECT_EQ(plan.freed_bytes, 200u);  // "s" stays referenced
  p.max_size = 399;                   // not even C fits: everything goes
  plan = plan_prune(e, p, day(5));
  EXPECT_EQ(removed(e, plan), (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(plan.freed_bytes, 800u);
}

TEST(PrunePolicy, MaxSizeStopsAtTheFirstEntryThatDoesNotFit) {
  // B does not fit after C; A would, but older entries go once the budget is reached.
  std::vector<PruneEntry> e = {entry("A", day(0), {{"a", 10}}), entry("B", day(1), {{"b", 500}}),
                               entry("C", day(2), {{"c", 100}})};
  PrunePolicy p;
  p.max_size = 200;
  EXPECT_EQ(removed(e, plan_prune(e, p, day(5))), (std::vector<std::string>{"A", "B"}));
}

TEST(PrunePolicy, FreedBytesIgnoreBlobsOfEntriesOutsideThePrefix) {
  std::vector<PruneEntry> e = {entry("x-old", day(0), {{"shared", 50}, {"own", 7}}),
                               entry("y-keep", day(0), {{"shared", 50}})};
  PrunePolicy p;
  p.prefix = "x-";
  p.older_than = hours(1);
  EXPECT_EQ(plan_prune(e, p, day(5)).freed_bytes, 7u);
}

TEST(PrunePolicy, LastUsedKeepsRecentlyRestoredEntries) {
  std::vector<PruneEntry> e = {entry("used-old", day(0)), entry("unused-old", day(0, 1)),
                               entry("new", day(9))};
  e[0].last_used = day(8);
  e[1].last_used = day(-3);  // a use older than created does not make it older
  PrunePolicy p;
  p.older_than = hours(24 * 7);
  EXPECT_EQ(removed(e, plan_prune(e, p, day(10))),
            (std::vector<std::string>{"unused-old", "used-old"}));
  p.by = PruneBy::last_used;
  EXPECT_EQ(removed(e, plan_prune(e, p, day(10))), std::vector<std::string>{"unused-old"});
  EXPECT_EQ(removed(e, plan_prune(e, p, day(16))),  // "new" is exactly 7 days old: kept
            (std::vector<std::string>{"unused-old", "used-old"}));
}

TEST(PrunePolicy, RulesCombine) {
  std::vector<PruneEntry> e = {entry("k-1", day(1)), entry("k-2", day(2)), entry("k-3", day(3)),
                               entry("k-4", day(9))};
  PrunePolicy p;
  p.keep = 3;
  p.older_than = hours(24 * 7);
  // keep drops k-1; older-than drops k-2 and k-3 (and k-1)
  EXPECT_EQ(removed(e, plan_prune(e, p, day(11))), (std::vector<std::string>{"k-1", "k-2", "k-3"}));
}

// One manifest tagged many times (anyone who may push can do it to the newest signed entry)
// counts once for --keep: the extra tags do not push it, or the entries after it, out.
TEST(PrunePolicy, KeepCountsOneManifestOnce) {
  std::vector<PruneEntry> e;
  for (const char* key : {"k-new", "k-copy-1", "k-copy-2", "k-copy-3"}) {
    e.push_back(entry(key, day(9), {{"sha256:layer", 100}}));
    e.back().digest = "sha256:newest";
  }
  e.push_back(entry("k-mid", day(5)));
  e.back().digest = "sha256:mid";
  e.push_back(entry("k-old", day(1)));
  e.back().digest = "sha256:old";
  PrunePolicy p;
  p.keep = 2;
  auto plan = plan_prune(e, p, day(10));
  EXPECT_EQ(removed(e, plan), std::vector<std::string>{"k-old"});
  EXPECT_EQ(plan.kept, 5u);
}

// Deleting a manifest takes every tag of it: a tag some rule would drop stays while another
// tag of the same manifest is kept.
TEST(PrunePolicy, AManifestKeptUnderOneTagStaysUnderEvery) {
  std::vector<PruneEntry> e = {entry("a-1", day(3)), entry("b-1", day(3)), entry("b-2", day(4))};
  e[0].digest = e[1].digest = "sha256:shared";
  e[2].digest = "sha256:other";
  PrunePolicy p;
  p.keep = 1;
  p.group_by = {"a-", "b-"};
  EXPECT_TRUE(removed(e, plan_prune(e, p, day(10))).empty());
  p.group_by = {"b-"};  // a-1 is in no group now: counted by nothing, so kept as before
  EXPECT_TRUE(removed(e, plan_prune(e, p, day(10))).empty());
  p.older_than = std::chrono::hours(24);  // every tag of "shared" is too old: it goes
  EXPECT_EQ(removed(e, plan_prune(e, p, day(10))), (std::vector<std::string>{"a-1", "b-1", "b-2"}));
}

// Sizes are what manifests claim: a claim near 2^64 must not wrap the sum around to a
// small one and keep everything.
TEST(PrunePolicy, MaxSizeSumsSaturate) {
  std::vector<PruneEntry> e = {entry("new", day(9), {{"sha256:n", 100}}),
                               entry("huge", day(5), {{"sha256:h", UINT64_MAX - 50}}),
                               entry("old", day(1), {{"sha256:o", 100}})};
  PrunePolicy p;
  p.max_size = 1000;
  auto plan = plan_prune(e, p, day(10));
  EXPECT_EQ(removed(e, plan), (std::vector<std::string>{"huge", "old"}));
  EXPECT_EQ(plan.freed_bytes, UINT64_MAX) << "saturated, not wrapped";
}
