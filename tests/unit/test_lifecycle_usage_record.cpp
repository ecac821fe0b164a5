// The last-use record kept in a tag (lifecycle/usage_record.hpp): read at once, written
// only after a match, the empty blob sent only when the record is new.
#include <gtest/gtest.h>

#include <atomic>

#include "counting_store.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/lifecycle/usage_record.hpp"
#include "regcache/store/memory/memory_store.hpp"

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
