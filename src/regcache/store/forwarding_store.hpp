// The base of store decorators: every operation of Store forwarded to another store, so
// that a decorator overrides only what it changes and a new operation reaches it forwarded.
#pragma once

#include "regcache/store/store.hpp"

namespace regcache {

// Forwards everything to `target`, which must outlive it. A decorator that changes has_blob
// overrides link_blob too when a mount must see the change (Store's default asks has_blob;
// here the mount goes to the target).
class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store& target) : next_(target) {}
  ForwardingStore(const ForwardingStore&) = delete;
  ForwardingStore& operator=(const ForwardingStore&) = delete;

  std::string describe() const override { return next_.describe(); }
  std::string staging_dir() const override { return next_.staging_dir(); }
  Result<bool> has_blob(const Descriptor& blob) override { return next_.has_blob(blob); }
  Status get_blob(const Descriptor& blob, Sink* out) override { return next_.get_blob(blob, out); }
  Status put_blob(const Descriptor& blob, const BlobSource& source) override {
    return next_.put_blob(blob, source);
  }
  Result<bool> link_blob(const Descriptor& blob, const Store& from) override {
    return next_.link_blob(blob, from);
  }
  StoreProperties properties() const override { return next_.properties(); }
  Result<std::optional<FetchedManifest>> get_manifest(const std::string& reference) override {
    return next_.get_manifest(reference);
  }
  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    return next_.put_manifest(tag, bytes, media_type);
  }
  Status delete_manifest(const std::string& digest) override {
    return next_.delete_manifest(digest);
  }
  Result<std::vector<std::string>> list_tags() override { return next_.list_tags(); }
  UsageRecords* usage() override { return next_.usage(); }
  void warm_up(size_t parallel) override { next_.warm_up(parallel); }
  void prepare_writes() override { next_.prepare_writes(); }
  void prepare_reads(const std::string& reference) override { next_.prepare_reads(reference); }
  bool drop_damaged(const Descriptor& blob) override { return next_.drop_damaged(blob); }

 protected:
  // Returns the store this one forwards to.
  Store& next() { return next_; }
  const Store& next() const { return next_; }

 private:
  Store& next_;
};

}  // namespace regcache
