// The last-use record kept in a tag (lifecycle/usage_record.hpp): read at once, written
// only after a match, the empty blob sent only when the record is new.
#include <gtest/gtest.h>

#include <atomic>

#include "counting_store.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/lifecycle/usage_record.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "regcache/util/clock.hpp"

#include <nlohmann/json.hpp>

using namespace regcache;
using regcache::testing::CountingStore;

namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

}  // namespace

TEST(UsageRecorder, WritesNothingWithoutAMatch) {
  CountingStore s;
  { UsageRecorder r(s); }
  EXPECT_EQ(s.manifest_gets, 1) << "the record is read when the recorder starts";
  EXPECT_EQ(s.manifest_puts, 0);
  EXPECT_EQ(s.blob_puts, 0);
  auto uses = read_usage(s);
  ASSERT_TRUE(uses.ok());
  EXPECT_TRUE(uses->empty());
}

TEST(UsageRecorder, RecordsTheMatchAndKeepsEarlierOnes) {
  CountingStore s;
  {
    UsageRecorder r(s);
    r.matched(kA);
  }
  EXPECT_EQ(s.blob_puts, 1) << "a new record sends the empty config once";
  EXPECT_EQ(s.manifest_puts, 1);
  {
    UsageRecorder r(s);
    r.matched(kB);
    r.matched(kA);  // only the first match counts
  }
  EXPECT_EQ(s.blob_puts, 1) << "an existing record already holds the empty config";
  EXPECT_EQ(s.blob_heads, 1) << "no HEAD of the empty config once a record exists";
  EXPECT_EQ(s.manifest_puts, 2);
  EXPECT_EQ(s.manifest_gets, 2) << "one read per restore";
  auto uses = read_usage(s);
  ASSERT_TRUE(uses.ok());
  ASSERT_EQ(uses->size(), 2u);
  EXPECT_TRUE(uses->count(kA) && uses->count(kB));
}

TEST(UsageRecorder, ChecksTheEmptyConfigWhenTheStoreRefusesTheRecord) {
  CountingStore s;
  {
    UsageRecorder r(s);
    r.matched(kA);
  }
  // A registry refuses a manifest naming a blob it lacks (not_found); the recorder then
  // makes sure of the empty config and writes again.
  s.refuse_next_put = true;
  {
    UsageRecorder r(s);
    r.matched(kB);
  }
  EXPECT_EQ(s.blob_heads, 2) << "the refused write checks the empty config";
  EXPECT_EQ(s.manifest_puts, 3) << "the refused write, then the one that holds";
  auto uses = read_usage(s);
  ASSERT_TRUE(uses.ok());
  EXPECT_TRUE(uses->count(kB));
}

// Whoever may push may write the record: a time no clock wrote ("~", the year 9999) sorted
// above every real use as text, so restores stopped recording theirs and 2,000 of them
// pushed the real records out. Only times a clock could have written count now.
TEST(UsageRecorder, TimesNoClockWroteDoNotStopARecord) {
  CountingStore s;
  nlohmann::json uses = {{kA, "~"}};
  for (int i = 0; i < 2000; ++i) {
    std::string hex = std::to_string(i);
    uses["sha256:" + std::string(64 - hex.size(), 'c') + hex] = "9999-01-01T00:00:00Z";
  }
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"annotations", {{"dev.regcache.usage", uses.dump()}}}};
  ASSERT_TRUE(
      s.put_manifest(kUsageTag, manifest.dump(), "application/vnd.oci.image.manifest.v1+json")
          .ok());
  {
    UsageRecorder r(s);
    r.matched(kA);
  }
  auto read = read_usage(s);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 1u) << "the times no clock wrote were kept";
  auto when = parse_rfc3339(read->at(kA));
  ASSERT_TRUE(when) << read->at(kA);
  EXPECT_LT(std::chrono::abs(*when - current_time()), std::chrono::hours(1));
}
