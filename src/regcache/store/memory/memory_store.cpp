#include "regcache/store/memory/memory_store.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "regcache/util/fs.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

class MemoryStore : public Store {
 public:
  MemoryStore(std::string description, std::string staging, StoreProperties properties)
      : description_(std::move(description)),
        staging_(std::move(staging)),
        properties_(std::move(properties)) {}

  StoreProperties properties() const override { return properties_; }

  std::string describe() const override { return description_; }

  std::string staging_dir() const override { return staging_; }

  Result<bool> has_blob(const Descriptor& d) override {
    std::lock_guard lock(mu_);
    auto it = blobs_.find(d.digest);
    return it != blobs_.end() && it->second.size() == d.size;
  }

  Status get_blob(const Descriptor& d, Sink* out) override {
    std::string bytes;
    {
      std::lock_guard lock(mu_);
      auto it = blobs_.find(d.digest);
      if (it == blobs_.end())
        return make_error(ErrorKind::not_found,
                          "blob " + d.digest + " is missing from " + describe());
      bytes = it->second;
    }
    return out->write(bytes.data(), bytes.size());
  }

  Status put_blob(const Descriptor& d, const BlobSource& src) override {
    std::string bytes = src.bytes;
    if (!src.file.empty()) {
      auto read = read_file(src.file);
      if (!read.ok()) return read.error();
      bytes = std::move(read).value();
      if (src.offset || src.length)
        bytes = bytes.substr(std::min<size_t>(src.offset, bytes.size()),
                             src.length ? src.length : std::string::npos);
    }
    if (sha256_digest(bytes) != d.digest || bytes.size() != d.size)
      return make_error(ErrorKind::integrity, "blob does not match its digest " + d.digest);
    std::lock_guard lock(mu_);
    blobs_[d.digest] = std::move(bytes);
    return {};
  }

  Result<std::optional<FetchedManifest>> get_manifest(const std::string& reference) override {
    std::lock_guard lock(mu_);
    std::string digest = reference;
    if (auto t = tags_.find(reference); t != tags_.end()) digest = t->second;
    auto it = manifests_.find(digest);
    if (it == manifests_.end()) return std::optional<FetchedManifest>();
    return std::optional<FetchedManifest>(it->second);
  }

  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    auto j = nlohmann::json::parse(bytes, nullptr, false);
    std::lock_guard lock(mu_);
    if (j.is_object() && j.contains("layers") && j["layers"].is_array()) {
      for (const auto& l : j["layers"]) {
        if (!l.is_object() || !l.contains("digest") || !l["digest"].is_string() ||
            !blobs_.count(l["digest"].get<std::string>())) {
          return make_error(ErrorKind::not_found, "manifest names a blob " + describe() + " lacks");
        }
      }
    }
    std::string digest = sha256_digest(bytes);
    if (is_valid_digest(tag) && tag != digest)
      return make_error(ErrorKind::integrity, "manifest does not match its digest " + tag);
    manifests_[digest] = FetchedManifest{bytes, media_type, digest};
    if (tag != digest) tags_[tag] = digest;
    return digest;
  }

  Status delete_manifest(const std::string& digest) override {
    std::lock_guard lock(mu_);
    if (!manifests_.erase(digest))
      return make_error(ErrorKind::not_found, "no manifest " + digest + " in " + describe());
    for (auto it = tags_.begin(); it != tags_.end();) {
      it = it->second == digest ? tags_.erase(it) : std::next(it);
    }
    return {};
  }

  Result<std::vector<std::string>> list_tags() override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [tag, digest] : tags_) out.push_back(tag);
    return out;
  }

 private:
  std::string description_, staging_;
  StoreProperties properties_;
  std::mutex mu_;
  std::map<std::string, std::string> blobs_;          // digest -> bytes
  std::map<std::string, FetchedManifest> manifests_;  // digest -> manifest
  std::map<std::string, std::string> tags_;           // tag -> digest
};

}  // namespace

std::unique_ptr<Store> make_memory_store(std::string description, std::string staging_dir,
                                         StoreProperties properties) {
  return std::make_unique<MemoryStore>(std::move(description), std::move(staging_dir),
                                       std::move(properties));
}

}  // namespace regcache
