#include "regcache/lifecycle/migration.hpp"

#include "regcache/util/json_fields.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <nlohmann/json.hpp>

#include "regcache/archive/compression.hpp"
#include "regcache/archive/safe_path.hpp"
#include "regcache/archive/tar_reader.hpp"
#include "regcache/core/staging.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/oci/reference.hpp"
#include "regcache/store/fetch_verified.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

constexpr uint64_t kMaxTarBytes = 64ull << 30;
constexpr const char* kCacheTgz = "cache.tgz";

enum class LayerCompression { none, gzip, zstd };

Result<LayerCompression> layer_compression(const std::string& media_type) {
  if (media_type.find("gzip") != std::string::npos) return LayerCompression::gzip;
  if (media_type.find("zstd") != std::string::npos) return LayerCompression::zstd;
  if (media_type.size() >= 4 && media_type.compare(media_type.size() - 4, 4, ".tar") == 0)
    return LayerCompression::none;
  return make_error(ErrorKind::integrity, "unsupported layer media type " + media_type);
}

// Maps the member names of a `tar -P` archive (absolute) to names relative to '/', which
// the extractor then checks like any archive path; hard-link targets likewise.
class AbsoluteNames : public TarEntryHandler {
 public:
  explicit AbsoluteNames(TarEntryHandler* next) : next_(next) {}
  Status begin(const TarHeader& h) override {
    TarHeader c = h;
    c.path = strip(h.path);
    if (h.typeflag == '1') c.linkpath = strip(h.linkpath);
    return next_->begin(c);
  }
  Status data(const char* b, size_t n) override { return next_->data(b, n); }
  Status hole(uint64_t n) override { return next_->hole(n); }
  Status end() override { return next_->end(); }

 private:
  static std::string strip(const std::string& p) {
    size_t i = p.find_first_not_of('/');
    return i == std::string::npos ? std::string() : p.substr(i);
  }
  TarEntryHandler* next_;
};

// Passes the content of the layer's cache.tgz member on to `inner`; ignores the rest.
class CacheTgzMember : public TarEntryHandler {
 public:
  explicit CacheTgzMember(Sink* inner) : inner_(inner) {}
  Status begin(const TarHeader& h) override {
    auto p = normalize_archive_path(h.path);
    std::string base =
        p ? p->substr(p->rfind('/') == std::string::npos ? 0 : p->rfind('/') + 1) : std::string();
    active_ = !found_ && (h.typeflag == '0' || h.typeflag == '7') && base == kCacheTgz;
    found_ = found_ || active_;
    return {};
  }
  Status data(const char* b, size_t n) override { return active_ ? inner_->write(b, n) : Status{}; }
  Status end() override {
    if (!active_) return {};
    active_ = false;
    return inner_->finish();
  }
  bool found() const { return found_; }

 private:
  Sink* inner_;
  bool active_ = false, found_ = false;
};

// Streams one layer: verify → decompress → outer tar → cache.tgz → gunzip → tar -P
// names → extractor. Returns whether the layer held cache.tgz.
Result<bool> extract_layer(Store& store, const Descriptor& d, Extractor* extractor) {
  auto comp = RC_TRY(layer_compression(d.media_type));
  AbsoluteNames names(extractor);
  TarReader inner_tar(&names);
  auto gunzip = make_decompressor(Compression::gzip, kMaxTarBytes, &inner_tar);
  CacheTgzMember member(gunzip.get());
  TarReader outer_tar(&member);
  std::unique_ptr<Sink> decomp;
  if (comp != LayerCompression::none) {
    decomp =
        make_decompressor(comp == LayerCompression::gzip ? Compression::gzip : Compression::zstd,
                          kMaxTarBytes, &outer_tar);
  }
  StopOnError guard(decomp ? decomp.get() : static_cast<Sink*>(&outer_tar));
  RC_CHECK(fetch_verified(store, d, &guard));
  RC_CHECK(guard.finish());
  return member.found();
}

// Returns the manifest of the image (for an index: its linux/amd64 or only image).
Result<FetchedManifest> image_manifest(Store& store, const std::string& reference) {
  auto m = RC_TRY(store.get_manifest(reference));
  if (!m)
    return make_error(ErrorKind::not_found, "no image " + reference + " in " + store.describe());
  auto j = nlohmann::json::parse(m->bytes, nullptr, false);
  if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) return *m;
  std::string pick;
  for (const auto& e : j["manifests"]) {
    if (!e.is_object() || !e.contains("digest") || !e["digest"].is_string()) continue;
    const auto& platform =
        e.is_object() && e.contains("platform") ? e["platform"] : nlohmann::json();
    if (pick.empty() || (string_field(platform, "os") == "linux" &&
                         string_field(platform, "architecture") == "amd64")) {
      pick = e["digest"].get<std::string>();
    }
  }
  if (pick.empty())
    return make_error(ErrorKind::integrity, "image index " + reference + " is empty");
  auto inner = RC_TRY(store.get_manifest(pick));
  if (!inner)
    return make_error(ErrorKind::not_found, "no image " + pick + " in " + store.describe());
  return *inner;
}

}  // namespace

Result<ImageRef> parse_image_ref(std::string_view text) {
  auto r = RC_TRY(parse_image_reference(text, HostRule::docker_hub_default));
  ImageRef out;
  out.store = "docker://" + r.host + "/" + r.repository;
  out.reference = !r.digest.empty() ? r.digest : !r.tag.empty() ? r.tag : "latest";
  return out;
}

// The staging targets of the image's paths: the extractor sees tar -P names relative to
// '/', so each target's prefix is its source path without the leading '/'.
Result<std::vector<StageTarget>> legacy_stage_targets(const std::vector<LegacyTarget>& targets) {
  std::vector<StageTarget> out;
  for (const auto& t : targets) {
    auto rel = normalize_archive_path(t.source.substr(std::min(t.source.size(), size_t{1})));
    if (t.source.empty() || t.source[0] != '/' || !rel) {
      return make_error(ErrorKind::usage, "cannot restore " + t.source + " from an image");
    }
    out.push_back({*rel, "", t.dest});
  }
  return out;
}

Result<LegacyReport> restore_legacy_image(Store& store, const std::string& reference,
                                          const std::vector<LegacyTarget>& targets,
                                          ExternalSymlinks symlinks) {
  auto m = RC_TRY(image_manifest(store, reference));
  auto image = parse_manifest(m.bytes);
  if (!image.ok())
    return make_error(ErrorKind::integrity, "image " + reference + ": " + image.error().message);
  LegacyReport rep;
  rep.digest = m.digest;
  // The same staging, destination checks and symlink rule as every restore.
  auto stage = RC_TRY(legacy_stage_targets(targets));
  auto staging = RC_TRY(Staging::prepare(std::move(stage)));
  DirFixups fixups;
  Extractor extractor(staging.extract_roots(), symlinks, &fixups);
  bool found = false;
  for (const auto& layer : image->layers) {
    found = RC_TRY(extract_layer(store, layer, &extractor));
    rep.downloaded_bytes += layer.size;
    if (found) break;
  }
  if (!found) {
    return make_error(ErrorKind::not_found, "image " + reference + " holds no " + kCacheTgz +
                                                " (not an image of the 2021 workaround)");
  }
  RC_CHECK(fixups.apply());
  RC_CHECK(staging.check_destinations());
  RC_CHECK(check_interrupted());
  for (size_t i = 0; i < staging.size(); ++i) {
    rep.found.push_back(staging.holds(i));
    if (!rep.found.back()) {
      log_warning("the image holds nothing under " + targets[i].source);
      staging.drop(i);
      continue;
    }
    RC_CHECK(staging.place(i));
  }
  rep.files = extractor.files();
  rep.bytes = extractor.bytes();
  return rep;
}

}  // namespace regcache
