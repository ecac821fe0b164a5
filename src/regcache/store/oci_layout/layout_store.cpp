#include "regcache/store/oci_layout/layout_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "regcache/oci/media_types.hpp"
#include "regcache/store/oci_layout/layout_lock.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/sha256.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

using nlohmann::json;

namespace {

constexpr const char* kRefName = "org.opencontainers.image.ref.name";

constexpr const char* kAnnoLastUsed = "dev.regcache.last-used";

// Checks what the rest of this file relies on in an index.json entry: an object with a
// string digest (get_manifest only follows valid sha256 ones into blobs/) and a string ref
// name, if any. Anything else would throw from the JSON accessors.
bool valid_index_entry(const json& m) {
  if (!m.is_object() || !m.contains("digest") || !m["digest"].is_string()) return false;
  if (!m.contains("annotations")) return true;
  const json& a = m["annotations"];
  return a.is_object() && (!a.contains(kRefName) || a[kRefName].is_string());
}

class LayoutStore : public Store, public UsageRecords {
 public:
  explicit LayoutStore(std::string root) : root_(std::move(root)) {}

  // Checks that the layout exists, without writing anything.
  Status check_exists() const {
    struct stat st {};
    if (::stat((root_ + "/oci-layout").c_str(), &st) == 0 ||
        ::stat(index_path().c_str(), &st) == 0) {
      return {};
    }
    return make_error(ErrorKind::not_found, "no store at " + describe());
  }

  // Removes what killed runs left (best effort: a read-only layout keeps them).
  void clear_leftovers() const {
    remove_stale(root_, kAtomicTempPrefix);
    remove_stale(root_ + "/blobs/sha256", kAtomicTempPrefix);
  }

  Status init() {
    RC_CHECK(make_dirs(root_ + "/blobs/sha256"));
    std::string layout = root_ + "/oci-layout";
    if (::access(layout.c_str(), F_OK) != 0) {
      RC_CHECK(write_file_atomic(layout, R"({"imageLayoutVersion":"1.0.0"})"));
    }
    remove_stale(root_, kAtomicTempPrefix);  // left by killed runs
    remove_stale(root_ + "/blobs/sha256", kAtomicTempPrefix);
    LayoutLock lock(lock_path());
    if (!lock.ok()) return errno_error("cannot lock", lock_path(), errno);
    if (::access(index_path().c_str(), F_OK) != 0) {
      json idx = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", json::array()}};
      RC_CHECK(write_file_atomic(index_path(), idx.dump()));
    }
    return {};
  }

  std::string describe() const override { return "oci:" + root_; }
  std::string staging_dir() const override { return root_; }

  // A blob found here is touched: a save about to reference it is then covered by the
  // garbage collector's grace period (store/oci_layout/layout_gc.hpp).
  Result<bool> has_blob(const Descriptor& d) override {
    std::string path = blob_path(d.digest);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    if (static_cast<uint64_t>(st.st_size) != d.size) return false;
    ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
    return true;
  }

  Status get_blob(const Descriptor& d, Sink* out) override {
    std::string path = blob_path(d.digest);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) {
        return make_error(ErrorKind::not_found,
                          "blob " + d.digest + " is missing from " + describe());
      }
      return errno_error("cannot open", path, errno);
    }
    std::vector<char> buf(1 << 18);
    Status st;
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) st = errno_error("cannot read", path, errno);
      if (n <= 0) break;
      st = check_interrupted();
      if (st.ok()) st = out->write(buf.data(), static_cast<size_t>(n));
      if (!st.ok()) break;
    }
    ::close(fd);
    return st;
  }

  Status put_blob(const Descriptor& d, const BlobSource& src) override {
    if (!is_valid_digest(d.digest))
      return make_error(ErrorKind::integrity, "bad digest " + d.digest);
    std::string dest = blob_path(d.digest);
    if (has_blob(d).value()) return {};
    if (src.file.empty()) return write_file_atomic(dest, src.bytes);
    // Staged inside this layout: a link is enough (given the modes every other file of the
    // layout has: the umask's); otherwise copy.
    if (::link(src.file.c_str(), dest.c_str()) == 0) {
      ::chmod(dest.c_str(), 0666 & ~process_umask());
      return {};
    }
    if (errno == EEXIST) return {};
    auto data = RC_TRY(read_file(src.file));
    return write_file_atomic(dest, data);
  }

  Result<std::optional<FetchedManifest>> get_manifest(const std::string& ref) override {
    std::string digest = ref;
    if (!is_valid_digest(ref)) {
      auto idx = RC_TRY(read_index());
      digest.clear();
      for (const auto& m : idx["manifests"]) {
        if (m.contains("annotations") && m["annotations"].value(kRefName, "") == ref) {
          digest = string_field(m, "digest");
        }
      }
      if (digest.empty()) return std::optional<FetchedManifest>();
      if (!is_valid_digest(digest)) {
        return make_error(ErrorKind::integrity,
                          "tag " + ref + " in " + index_path() + " names an unsupported digest");
      }
    }
    auto bytes = read_file(blob_path(digest));
    if (!bytes.ok()) {
      if (bytes.error().kind == ErrorKind::not_found) return std::optional<FetchedManifest>();
      return bytes.error();
    }
    FetchedManifest fm;
    fm.bytes = std::move(bytes).value();
    fm.digest = sha256_digest(fm.bytes);
    json j = json::parse(fm.bytes, nullptr, false);
    fm.media_type = string_field(j, "mediaType");
    return std::optional<FetchedManifest>(std::move(fm));
  }

  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    std::string digest = sha256_digest(bytes);
    RC_CHECK(put_blob({media_type, digest, bytes.size(), {}}, {"", bytes}));
    LayoutLock lock(lock_path());
    if (!lock.ok()) return errno_error("cannot lock", lock_path(), errno);
    auto idx = RC_TRY(read_index());
    json kept = json::array();
    for (const auto& m : idx["manifests"]) {
      if (!(m.contains("annotations") && m["annotations"].value(kRefName, "") == tag)) {
        kept.push_back(m);
      }
    }
    kept.push_back({{"mediaType", media_type},
                    {"digest", digest},
                    {"size", bytes.size()},
                    {"annotations", {{kRefName, tag}}}});
    idx["manifests"] = kept;
    RC_CHECK(write_file_atomic(index_path(), idx.dump()));
    return digest;
  }

  Status delete_manifest(const std::string& digest) override {
    LayoutLock lock(lock_path());
    if (!lock.ok()) return errno_error("cannot lock", lock_path(), errno);
    auto idx = RC_TRY(read_index());
    json kept = json::array();
    bool found = false;
    for (const auto& m : idx["manifests"]) {
      if (string_field(m, "digest") == digest)
        found = true;
      else
        kept.push_back(m);
    }
    if (!found)
      return make_error(ErrorKind::not_found, "no manifest " + digest + " in " + describe());
    idx["manifests"] = kept;
    return write_file_atomic(index_path(), idx.dump());
  }

  // Last uses live in index.json, as an annotation on each entry's descriptor: no extra
  // file, and a deleted entry takes its record with it.
  UsageRecords* usage() override { return this; }

  Result<UsageTimes> read_uses() override {
    auto idx = RC_TRY(read_index());
    UsageTimes out;
    for (const auto& m : idx["manifests"]) {
      if (m.contains("annotations") && m["annotations"].contains(kAnnoLastUsed) &&
          m["annotations"][kAnnoLastUsed].is_string()) {
        out[string_field(m, "digest")] = m["annotations"][kAnnoLastUsed].get<std::string>();
      }
    }
    return out;
  }

  Status record_use(const std::string& digest, const std::string& when) override {
    LayoutLock lock(lock_path());
    if (!lock.ok()) return errno_error("cannot lock", lock_path(), errno);
    auto idx = RC_TRY(read_index());
    bool changed = false;
    for (auto& m : idx["manifests"]) {
      if (string_field(m, "digest") != digest || !m.contains("annotations")) continue;
      auto& a = m["annotations"];
      if (a.contains(kAnnoLastUsed) && a[kAnnoLastUsed].is_string() &&
          a[kAnnoLastUsed].get<std::string>() >= when) {
        continue;
      }
      a[kAnnoLastUsed] = when;
      changed = true;
    }
    if (changed) RC_CHECK(write_file_atomic(index_path(), idx.dump()));
    return {};
  }

  Result<std::vector<std::string>> list_tags() override {
    auto idx = RC_TRY(read_index());
    std::vector<std::string> tags;
    for (const auto& m : idx["manifests"]) {
      if (m.contains("annotations") && m["annotations"].contains(kRefName)) {
        tags.push_back(m["annotations"][kRefName].get<std::string>());
      }
    }
    return tags;
  }

 private:
  std::string index_path() const { return root_ + "/index.json"; }
  std::string lock_path() const { return layout_lock_path(root_); }
  std::string blob_path(const std::string& digest) const {
    return root_ + "/blobs/sha256/" + digest.substr(7);
  }
  Result<json> read_index() {
    auto text = RC_TRY(read_file(index_path()));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("manifests") ||
        !j["manifests"].is_array()) {
      return make_error(ErrorKind::integrity, "malformed " + index_path());
    }
    for (size_t i = 0; i < j["manifests"].size(); ++i) {
      if (!valid_index_entry(j["manifests"][i])) {
        return make_error(ErrorKind::integrity,
                          "malformed " + index_path() + ": manifests[" + std::to_string(i) + "]");
      }
    }
    return j;
  }
  std::string root_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_layout_store(const std::string& root, LayoutOpen mode) {
  auto store = std::make_unique<LayoutStore>(root);
  RC_CHECK(mode == LayoutOpen::create ? store->init() : store->check_exists());
  if (mode == LayoutOpen::existing) store->clear_leftovers();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace regcache
