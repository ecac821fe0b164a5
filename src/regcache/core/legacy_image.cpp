#include "regcache/core/legacy_image.hpp"

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
#include "regcache/core/entry_format.hpp"
#include "regcache/core/place.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/stale.hpp"

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

struct Staging {
  int parent_fd = -1;
  std::string name, dest;
};

Result<std::vector<Staging>> prepare(const std::vector<LegacyTarget>& targets,
                                     std::vector<ExtractRoot>* roots) {
  std::vector<Staging> out;
  for (const auto& t : targets) {
    auto rel = normalize_archive_path(t.source.substr(std::min(t.source.size(), size_t{1})));
    if (t.source.empty() || t.source[0] != '/' || !rel) {
      return make_error(ErrorKind::usage, "cannot restore " + t.source + " from an image");
    }
    std::string parent = t.dest.substr(0, t.dest.rfind('/'));
    if (parent.empty()) parent = "/";
    RC_CHECK(make_dirs(parent));
    Staging s;
    s.dest = t.dest;
    s.parent_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s.parent_fd < 0) return errno_error("cannot open", parent, errno);
    remove_stale(parent, ".regcache-stage-");
    s.name = owned_temp_name(".regcache-stage-");
    roots->push_back({*rel, s.parent_fd, s.name});
    out.push_back(std::move(s));
  }
  return out;
}

void discard(std::vector<Staging>& staged) {
  for (auto& s : staged) {
    (void)remove_tree(s.dest.substr(0, s.dest.rfind('/') + 1) + s.name);
    if (s.parent_fd >= 0) ::close(s.parent_fd);
  }
}

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
  HashingSink hash(&guard);
  LimitSink limit(&hash, d.size, "the layer");
  Status st = store.get_blob(d, &limit);
  if (!st.ok() && st.error().kind != ErrorKind::integrity) return st.error();
  if (!st.ok() || hash.bytes() != d.size || hash.digest() != d.digest) {
    return make_error(ErrorKind::integrity,
                      "layer " + d.digest + " does not match its digest or size");
  }
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
  std::string s(text);
  if (s.rfind("docker://", 0) == 0) s = s.substr(9);
  ImageRef out;
  auto at = s.find('@');
  if (at != std::string::npos) {
    out.reference = s.substr(at + 1);
    s = s.substr(0, at);
  } else {
    auto colon = s.rfind(':');
    if (colon != std::string::npos && s.find('/', colon) == std::string::npos) {
      out.reference = s.substr(colon + 1);
      s = s.substr(0, colon);
    }
  }
  if (out.reference.empty()) out.reference = "latest";
  auto slash = s.find('/');
  std::string first = slash == std::string::npos ? "" : s.substr(0, slash);
  bool has_host = first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
                  first == "localhost";
  if (s.empty() || s.find("//") != std::string::npos) {
    return make_error(ErrorKind::usage, "invalid image reference '" + std::string(text) + "'");
  }
  out.store = "docker://" + (has_host ? s : "docker.io/" + s);
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
  std::vector<ExtractRoot> roots;
  auto staged_r = prepare(targets, &roots);
  if (!staged_r.ok()) return staged_r.error();
  auto staged = std::move(staged_r).value();
  DirFixups fixups;
  Extractor extractor(roots, symlinks, &fixups);
  Status st;
  bool found = false;
  for (const auto& layer : image->layers) {
    auto r = extract_layer(store, layer, &extractor);
    if (!r.ok()) {
      st = r.error();
      break;
    }
    rep.downloaded_bytes += layer.size;
    if ((found = *r)) break;
  }
  if (st.ok() && !found) {
    st = make_error(ErrorKind::not_found, "image " + reference + " holds no " + kCacheTgz +
                                              " (not an image of the 2021 workaround)");
  }
  if (st.ok()) st = fixups.apply();
  for (size_t i = 0; st.ok() && i < staged.size(); ++i) {
    struct stat sb {};
    bool present =
        ::fstatat(staged[i].parent_fd, staged[i].name.c_str(), &sb, AT_SYMLINK_NOFOLLOW) == 0;
    rep.found.push_back(present);
    if (!present) {
      log_warning("the image holds nothing under " + targets[i].source);
      continue;
    }
    st = place_staged(staged[i].parent_fd, staged[i].name, staged[i].dest);
  }
  discard(staged);
  RC_CHECK(st);
  rep.files = extractor.files();
  rep.bytes = extractor.bytes();
  return rep;
}

}  // namespace regcache
