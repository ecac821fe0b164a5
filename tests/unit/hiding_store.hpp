// A Store decorator for the pipeline tests: plays a registry repository, hides or
// corrupts blobs, and counts writes.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>

#include "regcache/format/entry_format.hpp"
#include "regcache/store/forwarding_store.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

// A Store that forwards to another one and can play a registry repository
// (properties().registry_repository), pretend blobs are missing (`hidden`: has_blob false,
// get_blob not_found, put_manifest naming one fails with not_found, until put_blob uploads
// it again), serve corrupted bytes for some blobs (`corrupt`), and count writes.
class TestStore : public ForwardingStore {
 public:
  explicit TestStore(Store& inner, std::string repository = "")
      : ForwardingStore(inner), repository_(std::move(repository)) {}

  void hide(const std::string& digest) {
    std::lock_guard lock(mu_);
    hidden_.insert(digest);
  }
  bool is_hidden(const std::string& digest) {
    std::lock_guard lock(mu_);
    return hidden_.count(digest) > 0;
  }
  void corrupt(const std::string& digest) {
    std::lock_guard lock(mu_);
    corrupt_.insert(digest);
  }

  std::atomic<int> put_blobs{0}, put_manifests{0}, has_blobs{0};

  std::string describe() const override { return "test(" + next().describe() + ")"; }
  Result<bool> has_blob(const Descriptor& d) override {
    ++has_blobs;
    if (is_hidden(d.digest)) return false;
    return next().has_blob(d);
  }
  Status get_blob(const Descriptor& d, Sink* out) override {
    if (is_hidden(d.digest)) return make_error(ErrorKind::not_found, "blob " + d.digest + " gone");
    bool flip;
    {
      std::lock_guard lock(mu_);
      flip = corrupt_.count(d.digest) > 0;
    }
    if (!flip) return next().get_blob(d, out);
    StringSink bytes;
    RC_CHECK(next().get_blob(d, &bytes));
    std::string s = bytes.str();
    if (!s.empty()) s[s.size() / 2] ^= 0x5a;
    return out->write(s.data(), s.size());
  }
  // A mount finds what this store shows: a hidden blob is not linked.
  Result<bool> link_blob(const Descriptor& d, const Store&) override { return has_blob(d); }
  Status put_blob(const Descriptor& d, const BlobSource& src) override {
    ++put_blobs;
    RC_CHECK(next().put_blob(d, src));
    std::lock_guard lock(mu_);
    hidden_.erase(d.digest);
    return {};
  }
  StoreProperties properties() const override {
    return {repository_.empty() ? ManifestBlobCheck::none : ManifestBlobCheck::refused,
            repository_};
  }
  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    ++put_manifests;
    auto info = parse_manifest(bytes);
    if (info.ok()) {
      for (const auto& l : info->layers) {
        if (is_hidden(l.digest))
          return make_error(ErrorKind::not_found, "manifest blob unknown: " + l.digest);
      }
    }
    return next().put_manifest(tag, bytes, media_type);
  }

 private:
  std::string repository_;
  std::mutex mu_;
  std::set<std::string> hidden_, corrupt_;
};

}  // namespace regcache
