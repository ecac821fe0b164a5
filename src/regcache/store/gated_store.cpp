#include "regcache/store/gated_store.hpp"

#include "regcache/store/forwarding_store.hpp"

namespace regcache {

namespace {

class GatedStore final : public ForwardingStore {
 public:
  GatedStore(Store& inner, std::shared_future<Status> gate)
      : ForwardingStore(inner), gate_(std::move(gate)) {}

  Status put_blob(const Descriptor& blob, const BlobSource& source) override {
    RC_CHECK(gate_.get());
    return ForwardingStore::put_blob(blob, source);
  }
  Result<bool> link_blob(const Descriptor& blob, const Store& from) override {
    RC_CHECK(gate_.get());
    return ForwardingStore::link_blob(blob, from);
  }
  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    RC_CHECK(gate_.get());
    return ForwardingStore::put_manifest(tag, bytes, media_type);
  }
  Status delete_manifest(const std::string& digest) override {
    RC_CHECK(gate_.get());
    return ForwardingStore::delete_manifest(digest);
  }

 private:
  std::shared_future<Status> gate_;
};

}  // namespace

std::unique_ptr<Store> make_gated_store(Store& inner, std::shared_future<Status> gate) {
  return std::make_unique<GatedStore>(inner, std::move(gate));
}

}  // namespace regcache
