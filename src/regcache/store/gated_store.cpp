#include "regcache/store/gated_store.hpp"

namespace regcache {

namespace {

class GatedStore final : public Store {
 public:
  GatedStore(Store& inner, std::shared_future<Status> gate)
      : inner_(inner), gate_(std::move(gate)) {}

  std::string describe() const override { return inner_.describe(); }
  std::string staging_dir() const override { return inner_.staging_dir(); }
  Result<bool> has_blob(const Descriptor& blob) override { return inner_.has_blob(blob); }
  Status get_blob(const Descriptor& blob, Sink* out) override { return inner_.get_blob(blob, out); }
  Status put_blob(const Descriptor& blob, const BlobSource& source) override {
    RC_CHECK(gate_.get());
    return inner_.put_blob(blob, source);
  }
  Result<bool> link_blob(const Descriptor& blob, const Store& from) override {
    RC_CHECK(gate_.get());
    return inner_.link_blob(blob, from);
  }
  StoreProperties properties() const override { return inner_.properties(); }
  Result<std::optional<FetchedManifest>> get_manifest(const std::string& reference) override {
    return inner_.get_manifest(reference);
  }
  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    RC_CHECK(gate_.get());
    return inner_.put_manifest(tag, bytes, media_type);
  }
  Status delete_manifest(const std::string& digest) override {
    RC_CHECK(gate_.get());
    return inner_.delete_manifest(digest);
  }
  Result<std::vector<std::string>> list_tags() override { return inner_.list_tags(); }
  UsageRecords* usage() override { return inner_.usage(); }
  void warm_up(size_t parallel) override { inner_.warm_up(parallel); }
  void prepare_writes() override { inner_.prepare_writes(); }

 private:
  Store& inner_;
  std::shared_future<Status> gate_;
};

}  // namespace

std::unique_ptr<Store> make_gated_store(Store& inner, std::shared_future<Status> gate) {
  return std::make_unique<GatedStore>(inner, std::move(gate));
}

}  // namespace regcache
