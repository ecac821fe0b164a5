// A memory store that counts the requests a registry would get, and can fail some of them:
// for the unit tests of what a command asks of its store.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "owning_store.hpp"
#include "regcache/store/memory/memory_store.hpp"

namespace regcache::testing {

class CountingStore : public OwningForwardingStore {
 public:
  explicit CountingStore(StoreProperties properties = {})
      : OwningForwardingStore(make_memory_store("memory", "/tmp", properties)) {}
  std::atomic<bool> refuse_next_put{false};  // the next manifest PUT: "blob unknown"
  std::atomic<int> manifest_gets{0}, manifest_puts{0}, blob_gets{0}, blob_heads{0}, blob_puts{0};
  std::atomic<int> tag_lists{0};

  // Makes reading the manifest under `reference` fail as an unreachable registry would.
  void fail_reads_of(const std::string& reference) {
    std::lock_guard lock(mu_);
    failing_.insert(reference);
  }
  // Makes the blob `digest` read back as other bytes of its size.
  void damage_blob(const std::string& digest) {
    std::lock_guard lock(mu_);
    damaged_.insert(digest);
  }
  // Returns how many times the manifest under reference was read.
  int gets_of(const std::string& reference) {
    std::lock_guard lock(mu_);
    return gets_[reference];
  }

  Result<bool> has_blob(const Descriptor& d) override {
    ++blob_heads;
    return next().has_blob(d);
  }
  // A mount costs a registry a request too: counted as the HEAD a default mount is.
  Result<bool> link_blob(const Descriptor& d, const Store&) override { return has_blob(d); }
  Status get_blob(const Descriptor& d, Sink* out) override {
    ++blob_gets;
    {
      std::lock_guard lock(mu_);
      if (damaged_.count(d.digest)) {
        const std::string other(d.size, 'x');
        return out->write(other.data(), other.size());
      }
    }
    return next().get_blob(d, out);
  }
  Status put_blob(const Descriptor& d, const BlobSource& s) override {
    ++blob_puts;
    return next().put_blob(d, s);
  }
  Result<std::optional<FetchedManifest>> get_manifest(const std::string& ref) override {
    ++manifest_gets;
    {
      std::lock_guard lock(mu_);
      ++gets_[ref];
      if (failing_.count(ref)) return make_error(ErrorKind::network, "connection refused");
    }
    return next().get_manifest(ref);
  }
  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    ++manifest_puts;
    if (refuse_next_put.exchange(false)) return make_error(ErrorKind::not_found, "blob unknown");
    return next().put_manifest(tag, bytes, media_type);
  }
  Result<std::vector<std::string>> list_tags() override {
    ++tag_lists;
    return next().list_tags();
  }
  // Zeroes the counters.
  void reset_counts() {
    manifest_gets = manifest_puts = blob_gets = blob_heads = blob_puts = tag_lists = 0;
    std::lock_guard lock(mu_);
    gets_.clear();
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> gets_;
  std::set<std::string> failing_, damaged_;
};

}  // namespace regcache::testing
