// Mark and sweep under the layout lock. Mark: every digest reachable from index.json,
// reading each reached blob that parses as a manifest or index (configs and layers are
// leaves). Sweep: every file of blobs/sha256 named like a digest and not marked, unless
// its mtime is within the grace period. A save in progress is safe: the blobs it wrote
// are young, and a blob it found already present was touched by has_blob. Temporary
// files (not named like a digest) are never touched here.
#include "regcache/store/oci_layout/layout_gc.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "regcache/oci/media_types.hpp"
#include "regcache/store/oci_layout/layout_lock.hpp"
#include "regcache/util/dir_path.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

using nlohmann::json;

void add_digest(const json& desc, std::vector<std::string>* todo) {
  if (desc.is_object() && desc.contains("digest") && desc["digest"].is_string())
    todo->push_back(desc["digest"].get<std::string>());
}

// Adds the digests a manifest or index blob refers to (a blob that is not a regular file, or
// larger than a manifest can be, refers to nothing).
void add_references(int blobs_fd, const std::string& name, std::vector<std::string>* todo) {
  auto text = read_file_at(blobs_fd, name, name, kMaxManifestBytes);
  if (!text.ok()) return;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("schemaVersion")) return;
  for (const char* list : {"manifests", "layers"}) {
    if (j.contains(list) && j[list].is_array()) {
      for (const auto& d : j[list]) add_digest(d, todo);
    }
  }
  if (j.contains("config")) add_digest(j["config"], todo);
  // Not the subject: a referrer (a signature) does not keep the entry it refers to.
}

Result<std::set<std::string>> mark(int root_fd, int blobs_fd, const std::string& root) {
  auto text = RC_TRY(read_file_at(root_fd, "index.json", root + "/index.json", 256 << 20));
  json idx = json::parse(text, nullptr, false);
  if (!idx.is_object() || !idx.contains("manifests") || !idx["manifests"].is_array())
    return make_error(ErrorKind::integrity, "malformed " + root + "/index.json");
  std::vector<std::string> todo;
  for (const auto& m : idx["manifests"]) add_digest(m, &todo);
  std::set<std::string> seen;
  while (!todo.empty()) {
    std::string d = todo.back();
    todo.pop_back();
    if (!is_valid_digest(d) || !seen.insert(d).second) continue;
    add_references(blobs_fd, d.substr(7), &todo);
  }
  return seen;
}

}  // namespace

Result<GcReport> collect_layout_garbage(const std::string& root, std::chrono::seconds grace) {
  // Relative to the layout's directory and never through a symlink: another user who can
  // write into the layout must not turn a sweep into deletions elsewhere.
  auto dir = RC_TRY(open_directory(root, MissingDirs::error));
  LayoutLock lock(dir.fd.get(), lock_wait_end(kLayoutLockPatience, std::nullopt));
  if (!lock.ok()) return layout_lock_error(root, errno);
  auto blobs = RC_TRY(open_dir_below(dir.fd.get(), "blobs/sha256"));
  auto reachable = RC_TRY(mark(dir.fd.get(), blobs.get(), root));
  GcReport rep;
  const auto cutoff = std::chrono::system_clock::now() - grace;
  for (const auto& n : list_dir(blobs.get())) {
    if (!is_sha256_hex(n) || reachable.count("sha256:" + n)) continue;
    struct stat st {};
    if (::fstatat(blobs.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      continue;
    if (std::chrono::system_clock::from_time_t(st.st_mtime) > cutoff) {
      ++rep.young_blobs;
      rep.young_bytes += static_cast<uint64_t>(st.st_size);
      continue;
    }
    if (::unlinkat(blobs.get(), n.c_str(), 0) != 0) {
      log_warning(errno_message("cannot remove", root + "/blobs/sha256/" + n, errno));
      continue;
    }
    ++rep.removed_blobs;
    rep.removed_bytes += static_cast<uint64_t>(st.st_size);
  }
  return rep;
}

}  // namespace regcache
