#include "regcache/store/oci_layout/layout_forget.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "regcache/store/oci_layout/layout_lock.hpp"
#include "regcache/util/dir_path.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

bool blob_gone(int blobs_fd, const std::string& digest) {
  struct stat st {};
  return is_valid_digest(digest) &&
         ::fstatat(blobs_fd, digest.substr(7).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 &&
         errno == ENOENT;
}

// Returns false when the manifest `digest` is gone, or a blob it names directly (its config
// and layers; for an index, its manifests) is. What cannot be read or parsed is kept.
bool complete(int blobs_fd, const std::string& digest) {
  if (blob_gone(blobs_fd, digest)) return false;
  auto text = read_file_at(blobs_fd, digest.substr(7), digest, 4 << 20);
  if (!text.ok()) return true;
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return true;
  if (j.contains("config") && j["config"].is_object() &&
      blob_gone(blobs_fd, string_field(j["config"], "digest")))
    return false;
  for (const char* list : {"layers", "manifests"}) {
    if (!j.contains(list) || !j[list].is_array()) continue;
    for (const auto& d : j[list]) {
      if (d.is_object() && blob_gone(blobs_fd, string_field(d, "digest"))) return false;
    }
  }
  return true;
}

}  // namespace

Result<size_t> forget_missing_manifests(const std::string& root) {
  auto dir = RC_TRY(open_directory(root, MissingDirs::error));
  LayoutLock lock(dir.fd.get(), lock_wait_end(kTierLockPatience, std::nullopt));
  if (!lock.ok()) return layout_lock_error(root, errno);
  auto blobs = RC_TRY(open_dir_below(dir.fd.get(), "blobs/sha256"));
  auto text = RC_TRY(read_file_at(dir.fd.get(), "index.json", root + "/index.json", 256 << 20));
  nlohmann::json idx = nlohmann::json::parse(text, nullptr, false);
  if (!idx.is_object() || !idx.contains("manifests") || !idx["manifests"].is_array())
    return make_error(ErrorKind::integrity, "malformed " + root + "/index.json");
  nlohmann::json kept = nlohmann::json::array();
  size_t gone = 0;
  for (const auto& m : idx["manifests"]) {
    const std::string digest = string_field(m, "digest");
    if (is_valid_digest(digest) && !complete(blobs.get(), digest)) {
      ++gone;
      continue;
    }
    kept.push_back(m);
  }
  if (gone == 0) return gone;
  idx["manifests"] = std::move(kept);
  RC_CHECK(write_file_atomic_at(dir.fd.get(), "index.json", idx.dump(), root + "/index.json"));
  return gone;
}

}  // namespace regcache
