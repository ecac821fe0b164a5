#include <gtest/gtest.h>

#include <set>

#include "regcache/format/pack_plan.hpp"

using namespace regcache;

namespace {

std::vector<FileEntry> files(int n, uint64_t size, int skip = -1) {
  std::vector<FileEntry> out;
  for (int i = 0; i < n; ++i) {
    if (i == skip) continue;
    FileEntry e;
    char name[32];
    std::snprintf(name, sizeof name, "ws/f%06d", i);
    e.path = name;
    e.size = size;
    out.push_back(e);
  }
  return out;
}

// The set of packs, each described by its first and last path.
std::set<std::pair<std::string, std::string>> shape(const std::vector<FileEntry>& e,
                                                    const std::vector<Pack>& packs) {
  std::set<std::pair<std::string, std::string>> s;
  for (const auto& p : packs) s.insert({e[p.entries.front()].path, e[p.entries.back()].path});
  return s;
}

PackOptions small() {
  return {64 << 10, 256 << 10, 1 << 20};
}

}  // namespace

TEST(PackPlan, EveryEntryInExactlyOnePack) {
  auto e = files(3000, 1000);
  auto packs = plan_packs(e, small());
  std::vector<int> seen(e.size(), 0);
  for (const auto& p : packs) {
    for (size_t i : p.entries) seen[i]++;
  }
  for (int s : seen) EXPECT_EQ(s, 1);
  EXPECT_GT(packs.size(), 3u);
  for (const auto& p : packs) EXPECT_LE(p.bytes, small().max_bytes + 4096);
}

TEST(PackPlan, DeletingAFileChangesFewPacks) {
  auto before = files(3000, 1000);
  auto after = files(3000, 1000, 1500);
  auto a = shape(before, plan_packs(before, small()));
  auto b = shape(after, plan_packs(after, small()));
  size_t changed = 0;
  for (const auto& p : b) changed += a.count(p) == 0;
  EXPECT_LE(changed, 2u) << "of " << b.size();
}

TEST(PackPlan, InsertingAFileChangesFewPacks) {
  auto before = files(3000, 1000, 1200);
  auto after = files(3000, 1000);
  auto a = shape(before, plan_packs(before, small()));
  auto b = shape(after, plan_packs(after, small()));
  size_t changed = 0;
  for (const auto& p : b) changed += a.count(p) == 0;
  EXPECT_LE(changed, 2u) << "of " << b.size();
}

TEST(PackPlan, HugeFileGetsItsOwnPack) {
  auto e = files(10, 1000);
  e[5].size = 10 << 20;
  auto packs = plan_packs(e, small());
  bool alone = false;
  for (const auto& p : packs) alone |= p.entries.size() == 1 && p.entries[0] == 5;
  EXPECT_TRUE(alone);
}

TEST(PackPlan, HardLinksJoinTheirTarget) {
  auto e = files(3000, 1000);
  e[2999].type = FileType::hardlink;
  e[2999].size = 0;
  e[2999].link_target = e[3].path;
  auto packs = plan_packs(e, small());
  for (const auto& p : packs) {
    bool has_target = std::count(p.entries.begin(), p.entries.end(), 3u);
    bool has_link = std::count(p.entries.begin(), p.entries.end(), 2999u);
    EXPECT_EQ(has_target, has_link);
  }
}
