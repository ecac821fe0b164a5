#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "counting_store.hpp"
#include "owning_store.hpp"
#include "regcache/oci/media_types.hpp"
#include "regcache/store/oci_layout/layout_store.hpp"
#include "regcache/store/tiered/copy_checks.hpp"
#include "regcache/store/tiered/tiered_store.hpp"
#include "regcache/util/sha256.hpp"
#include "test_helpers.hpp"

using namespace regcache;
using regcache::testing::CountingStore;
using regcache::testing::TempDir;

namespace {

Descriptor tier_blob(const std::string& bytes) {
  return {"application/octet-stream", sha256_digest(bytes), bytes.size(), {}};
}

std::string tier_manifest(const Descriptor& config, const std::vector<Descriptor>& layers) {
  std::string out = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kOciManifest) +
                    "\",\"config\":{\"mediaType\":\"" + std::string(kOciConfig) +
                    "\",\"digest\":\"" + config.digest +
                    "\",\"size\":" + std::to_string(config.size) + "},\"layers\":[";
  for (size_t i = 0; i < layers.size(); ++i) {
    out += (i ? "," : "") + std::string("{\"mediaType\":\"") + kOciLayerZstd + "\",\"digest\":\"" +
           layers[i].digest + "\",\"size\":" + std::to_string(layers[i].size) + "}";
  }
  return out + "]}";
}

void put_in(Store& store, const std::string& bytes) {
  ASSERT_TRUE(store.put_blob(tier_blob(bytes), {"", bytes}).ok());
}

// A tier whose layout and registry both hold one entry (a config and two layers) under
// the tag "k1"; the stores count their requests.
struct TierFixture {
  TempDir root;
  CountingStore* remote = nullptr;
  CountingStore* local = nullptr;
  TierCounters counters;
  std::unique_ptr<Store> tier;
  std::vector<std::string> blobs{"{\"config\":1}", std::string(5000, 'a'), std::string(7000, 'b')};
  std::vector<Descriptor> descs;

  TierFixture() {
    auto r = std::make_unique<CountingStore>();
    auto l = std::make_unique<CountingStore>();
    remote = r.get();
    local = l.get();
    for (const auto& b : blobs) {
      descs.push_back(tier_blob(b));
      put_in(*remote, b);
      put_in(*local, b);
    }
    const std::string m = tier_manifest(descs[0], {descs[1], descs[2]});
    EXPECT_TRUE(remote->put_manifest("k1", m, kOciManifest).ok());
    EXPECT_TRUE(local->put_manifest("k1", m, kOciManifest).ok());
    remote->reset_counts();
    local->reset_counts();
    tier = make_tiered_store(std::move(r), std::move(l), root.path(), &counters, {});
  }
  // Waits until the local layout served `reads` blob reads (at most a minute: a failure,
  // not a timing the test depends on).
  bool wait_for_local_reads(int reads) {
    for (int i = 0; i < 60000 && local->blob_gets.load() < reads; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return local->blob_gets.load() >= reads;
  }
};

// A layout whose blob reads fail as on a signal (not a content problem) until told not to.
class InterruptedReads : public regcache::testing::OwningForwardingStore {
 public:
  using OwningForwardingStore::OwningForwardingStore;
  std::atomic<bool> interrupt{true};
  Status get_blob(const Descriptor& d, Sink* out) override {
    if (interrupt) return make_error(ErrorKind::interrupted, "interrupted by a signal");
    return next().get_blob(d, out);
  }
};

}  // namespace

TEST(CopyChecks, EachCopyIsCheckedOnceWhetherAheadOrByItsReader) {
  std::mutex mu;
  std::map<std::string, int> calls;
  std::vector<Descriptor> blobs;
  for (int i = 0; i < 20; ++i) blobs.push_back(tier_blob("blob " + std::to_string(i)));
  {
    CopyChecks checks([&](const Descriptor& d, const std::atomic<bool>&) {
      std::lock_guard lock(mu);
      ++calls[d.digest];
      return d.size % 2 ? LocalCopy::good : LocalCopy::absent;
    });
    checks.check_ahead([&] { return blobs; });
    checks.check_ahead([&] { return blobs; });  // only the first call starts anything
    // The readers ask in the opposite order: some checks are made ahead, some by them.
    for (size_t i = blobs.size(); i-- > 0;) {
      EXPECT_EQ(checks.check(blobs[i]), blobs[i].size % 2 ? LocalCopy::good : LocalCopy::absent);
    }
    for (const auto& d : blobs) checks.check(d);  // asked again: the first answer
  }
  ASSERT_EQ(calls.size(), blobs.size());
  for (const auto& [digest, n] : calls) EXPECT_EQ(n, 1) << digest;
}

TEST(CopyChecks, StopsItsChecksAheadWhenDestroyed) {
  std::mutex mu;
  std::condition_variable cv;
  bool first_started = false;
  std::atomic<int> calls{0};
  std::atomic<bool> saw_stop{false};
  std::vector<Descriptor> blobs{tier_blob("one"), tier_blob("two"), tier_blob("three")};
  {
    CopyChecks checks([&](const Descriptor&, const std::atomic<bool>& stop) {
      ++calls;
      {
        std::lock_guard lock(mu);
        first_started = true;
      }
      cv.notify_all();
      while (!stop) std::this_thread::yield();  // a long read, ended by the stop
      saw_stop = true;
      return LocalCopy::absent;
    });
    checks.check_ahead([&] { return blobs; });
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return first_started; });
  }  // the destructor stops the running check and starts no other
  EXPECT_TRUE(saw_stop.load());
  EXPECT_EQ(calls.load(), 1);
}

TEST(TieredStore, ChecksTheEntryItHoldsWhileTheRegistryIsAsked) {
  TierFixture f;
  f.tier->prepare_reads("k1");
  // The three copies are read for their checks before any reader asks for them.
  ASSERT_TRUE(f.wait_for_local_reads(3));
  auto m = f.tier->get_manifest("k1");
  ASSERT_TRUE(m.ok() && *m);
  for (size_t i = 0; i < f.blobs.size(); ++i) {
    StringSink out(1 << 20);
    ASSERT_TRUE(f.tier->get_blob(f.descs[i], &out).ok());
    EXPECT_EQ(out.str(), f.blobs[i]);
  }
  // One more read of each copy, to stream it: none was checked twice, none came from far.
  EXPECT_EQ(f.local->blob_gets.load(), 6);
  EXPECT_EQ(f.remote->blob_gets.load(), 0);
  EXPECT_EQ(f.counters.local_bytes.load(), 12000u + f.blobs[0].size());
  EXPECT_EQ(f.counters.remote_bytes.load(), 0u);
}

TEST(TieredStore, ADamagedCopyFoundAheadIsFetchedFromTheRegistry) {
  TierFixture f;
  f.local->damage_blob(f.descs[2].digest);
  f.tier->prepare_reads("k1");
  ASSERT_TRUE(f.wait_for_local_reads(3));
  StringSink out(1 << 20);
  ASSERT_TRUE(f.tier->get_blob(f.descs[2], &out).ok());
  EXPECT_EQ(out.str(), f.blobs[2]);
  EXPECT_EQ(f.remote->blob_gets.load(), 1);
  EXPECT_EQ(f.counters.remote_bytes.load(), f.blobs[2].size());
}

TEST(TieredStore, ABlobTheTierDidNotExpectIsCheckedByItsReader) {
  TierFixture f;
  const std::string other(3000, 'c');
  put_in(*f.local, other);
  f.local->reset_counts();
  f.tier->prepare_reads("k-unknown");  // the layout holds no such tag: nothing ahead
  StringSink out(1 << 20);
  ASSERT_TRUE(f.tier->get_blob(tier_blob(other), &out).ok());
  EXPECT_EQ(out.str(), other);
  EXPECT_EQ(f.local->blob_gets.load(), 2);  // its check, then the read
  EXPECT_EQ(f.remote->blob_gets.load(), 0);
}

TEST(TieredStore, ACopyWhoseReadFailsIsLeftInPlace) {
  TempDir root;
  const std::string bytes(6000, 'd');
  const Descriptor d = tier_blob(bytes);
  auto layout = open_layout_store(root.path());
  ASSERT_TRUE(layout.ok());
  ASSERT_TRUE((*layout)->put_blob(d, {"", bytes}).ok());
  auto local = std::make_unique<InterruptedReads>(std::move(*layout));
  InterruptedReads* reads = local.get();
  auto remote = std::make_unique<CountingStore>();
  put_in(*remote, bytes);
  CountingStore* far = remote.get();
  TierCounters counters;
  auto tier = make_tiered_store(std::move(remote), std::move(local), root.path(), &counters, {});
  StringSink out(1 << 20);
  ASSERT_TRUE(tier->get_blob(d, &out).ok());  // served by the registry this time
  EXPECT_EQ(out.str(), bytes);
  EXPECT_EQ(far->blob_gets.load(), 1);
  // The copy was not taken for damaged: it is still there, and holds the blob.
  EXPECT_TRUE(regcache::testing::exists_nofollow(root / ("blobs/sha256/" + d.digest.substr(7))));
  reads->interrupt = false;
  auto fresh = open_layout_store(root.path(), LayoutOpen::existing);
  ASSERT_TRUE(fresh.ok());
  HashingSink hash(nullptr);
  ASSERT_TRUE((*fresh)->get_blob(d, &hash).ok());
  EXPECT_EQ(hash.digest(), d.digest);
}
