// What a save does beside its requests: it walks and packs while it asks whether the key
// is saved already (writing nothing before the answer), and it uploads the config while
// the last packs are still going up. Each test holds one request back until the save shows
// it did not wait for it; the wait is bounded only so that a regression fails instead of
// hanging.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "owning_store.hpp"
#include "regcache/core/save.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/oci/media_types.hpp"
#include "regcache/store/gated_store.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "regcache/util/sha256.hpp"
#include "test_helpers.hpp"

namespace regcache {
namespace {

using testing::TempDir;
using testing::write_file;

constexpr auto kRegressionBound = std::chrono::seconds(60);

// A flag one thread raises and another waits for, at most kRegressionBound.
class Signal {
 public:
  void raise() {
    std::lock_guard lock(mu_);
    up_ = true;
    cv_.notify_all();
  }
  // Returns whether the flag went up (false: the bound passed first).
  bool wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kRegressionBound, [&] { return up_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool up_ = false;
};

// Forwards to a memory store; the test decides what waits for what.
class HoldingStore : public regcache::testing::OwningForwardingStore {
 public:
  explicit HoldingStore(const std::string& dir)
      : OwningForwardingStore(make_memory_store("memory", dir)) {}
  std::function<void(const std::string&)> on_get_manifest;  // before it is answered
  std::function<void(const Descriptor&)> on_has_blob, on_put_blob;
  std::atomic<int> blob_puts{0}, manifest_puts{0};

  Result<bool> has_blob(const Descriptor& d) override {
    if (on_has_blob) on_has_blob(d);
    return next().has_blob(d);
  }
  Result<bool> link_blob(const Descriptor& d, const Store&) override { return has_blob(d); }
  Status put_blob(const Descriptor& d, const BlobSource& s) override {
    ++blob_puts;
    if (on_put_blob) on_put_blob(d);
    return next().put_blob(d, s);
  }
  Result<std::optional<FetchedManifest>> get_manifest(const std::string& ref) override {
    if (on_get_manifest) on_get_manifest(ref);
    return next().get_manifest(ref);
  }
  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    ++manifest_puts;
    return next().put_manifest(tag, bytes, media_type);
  }
};

struct OverlapTree {
  TempDir tmp;
  Anchors anchors{tmp / "ws", tmp / "home"};
  std::string cache = anchors.workspace + "/cache";

  explicit OverlapTree(int files = 12) {
    for (int i = 0; i < files; ++i)
      write_file(cache + "/d" + std::to_string(i % 3) + "/f" + std::to_string(i),
                 std::string(40000 + i, static_cast<char>('a' + i)));
  }
  SaveOptions options(const std::string& key) const {
    SaveOptions o;
    o.key = key;
    o.paths = {cache};
    o.anchors = anchors;
    o.jobs = 4;
    o.cpu_jobs = 2;
    o.packs = packs_around(64 << 10);  // a few packs
    return o;
  }
};

TEST(GatedStore, WritesWaitForTheGateAndReadsGoAtOnce) {
  TempDir tmp;
  auto inner = make_memory_store("memory", tmp.path());
  std::promise<Status> open;
  auto gated = make_gated_store(*inner, open.get_future().share());
  const std::string bytes = "blob";
  const Descriptor d{"application/octet-stream", sha256_digest(bytes), bytes.size(), {}};
  auto put = std::async(std::launch::async, [&] { return gated->put_blob(d, {"", bytes}); });
  // Reads do not wait: were they gated, these would never return.
  EXPECT_FALSE(gated->has_blob(d).value());
  EXPECT_FALSE(gated->get_manifest("latest").value().has_value());
  EXPECT_FALSE(inner->has_blob(d).value()) << "the write went before the gate opened";
  open.set_value(Status{});
  EXPECT_TRUE(put.get().ok());
  EXPECT_TRUE(inner->has_blob(d).value());
}

TEST(GatedStore, AGateThatFailsFailsEveryWriteWithItsError) {
  TempDir tmp;
  auto inner = make_memory_store("memory", tmp.path());
  std::promise<Status> shut;
  shut.set_value(make_error(ErrorKind::exists, "the key is saved"));
  auto gated = make_gated_store(*inner, shut.get_future().share());
  const std::string bytes = "blob";
  const Descriptor d{"application/octet-stream", sha256_digest(bytes), bytes.size(), {}};
  auto put = gated->put_blob(d, {"", bytes});
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().kind, ErrorKind::exists);
  EXPECT_FALSE(gated->put_manifest("t", "{}", "application/json").ok());
  EXPECT_FALSE(gated->delete_manifest(d.digest).ok());
  EXPECT_FALSE(inner->has_blob(d).value());
}

// The answer to "is the key saved?" is held back until the save has compressed a pack
// (it HEADs it): the save packs beside the question.
TEST(SaveOverlap, PacksWhileItAsksWhetherTheKeyIsSaved) {
  OverlapTree tree;
  HoldingStore store(tree.tmp.path());
  Signal headed;
  bool packed_first = false;
  const std::string tag = tag_for_key("k");
  store.on_has_blob = [&](const Descriptor&) { headed.raise(); };
  store.on_get_manifest = [&](const std::string& ref) {
    if (ref == tag) packed_first = headed.wait();
  };
  auto r = save_entry(store, tree.options("k"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->result, SaveResult::saved);
  EXPECT_TRUE(packed_first) << "the save waited for the answer before packing";
}

// A key saved already: the second save packs (its tree changed), hears that the key is
// taken, and writes nothing at all.
TEST(SaveOverlap, AKeySavedAlreadyGetsNoWriteEvenThoughTheSavePacked) {
  OverlapTree tree;
  HoldingStore store(tree.tmp.path());
  auto first = save_entry(store, tree.options("k"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  write_file(tree.cache + "/d0/new", std::string(50000, 'n'));
  const int blobs = store.blob_puts, manifests = store.manifest_puts;
  Signal headed;
  bool packed_first = false;
  store.on_has_blob = [&](const Descriptor&) { headed.raise(); };
  store.on_get_manifest = [&](const std::string& ref) {
    if (ref == tag_for_key("k")) packed_first = headed.wait();
  };
  auto again = save_entry(store, tree.options("k"));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->result, SaveResult::exists);
  EXPECT_EQ(again->digest, first->digest);
  EXPECT_EQ(again->layers, first->layers);
  EXPECT_TRUE(packed_first);
  EXPECT_EQ(store.blob_puts, blobs) << "a blob went up for a key saved already";
  EXPECT_EQ(store.manifest_puts, manifests);
}

// A tag holding another key's entry fails the save with that error, as before, and with
// nothing written.
TEST(SaveOverlap, ATagHoldingAnotherEntryFailsTheSaveWithNothingWritten) {
  OverlapTree tree;
  HoldingStore store(tree.tmp.path());
  auto first = save_entry(store, tree.options("k"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto m = store.get_manifest(tag_for_key("k")).value();
  ASSERT_TRUE(m.has_value());
  // "other" names a tag of its own; put the first entry under it.
  ASSERT_TRUE(store.put_manifest(tag_for_key("other"), m->bytes, m->media_type).ok());
  write_file(tree.cache + "/d1/new", std::string(50000, 'n'));
  const int blobs = store.blob_puts, manifests = store.manifest_puts;
  auto r = save_entry(store, tree.options("other"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::exists);
  EXPECT_NE(r.error().message.find("holds another entry"), std::string::npos) << r.error().message;
  EXPECT_EQ(store.blob_puts, blobs);
  EXPECT_EQ(store.manifest_puts, manifests);
}

// Every pack's upload is held until the config's arrives: the config goes up beside the
// packs, once they are all compressed, instead of after their uploads.
TEST(SaveOverlap, TheConfigGoesUpBesideThePacks) {
  OverlapTree tree(6);
  HoldingStore store(tree.tmp.path());
  Signal config_put;
  std::atomic<int> packs_before_config{0}, packs_held{0};
  store.on_put_blob = [&](const Descriptor& d) {
    if (d.media_type == kOciConfig) {
      config_put.raise();
      return;
    }
    ++packs_held;
    if (config_put.wait()) ++packs_before_config;
  };
  SaveOptions o = tree.options("k");
  o.jobs = 16;  // a transfer for every pack, and one left for the config
  auto r = save_entry(store, o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_GT(r->layers, 1u);
  ASSERT_LT(r->layers, o.jobs) << "no transfer left for the config";
  EXPECT_EQ(packs_held, static_cast<int>(r->layers));
  EXPECT_EQ(packs_before_config, static_cast<int>(r->layers))
      << "the config waited for the packs' uploads";
}

}  // namespace
}  // namespace regcache
