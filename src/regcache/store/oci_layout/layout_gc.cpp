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
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

using nlohmann::json;

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

void add_digest(const json& desc, std::vector<std::string>* todo) {
  if (desc.is_object() && desc.contains("digest") && desc["digest"].is_string())
    todo->push_back(desc["digest"].get<std::string>());
}

// Adds the digests a manifest or index blob refers to.
void add_references(const std::string& path, std::vector<std::string>* todo) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || static_cast<size_t>(st.st_size) > kMaxManifestBytes) return;
  auto text = read_file(path);
  if (!text.ok()) return;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("schemaVersion")) return;
  for (const char* list : {"manifests", "layers"}) {
    if (j.contains(list) && j[list].is_array()) {
      for (const auto& d : j[list]) add_digest(d, todo);
    }
  }
  if (j.contains("config")) add_digest(j["config"], todo);
  if (j.contains("subject")) add_digest(j["subject"], todo);
}

Result<std::set<std::string>> mark(const std::string& root) {
  auto text = RC_TRY(read_file(root + "/index.json"));
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
    add_references(root + "/blobs/sha256/" + d.substr(7), &todo);
  }
  return seen;
}

}  // namespace

Result<GcReport> collect_layout_garbage(const std::string& root, std::chrono::seconds grace) {
  LayoutLock lock(layout_lock_path(root));
  if (!lock.ok()) return errno_error("cannot lock", layout_lock_path(root), errno);
  auto reachable = RC_TRY(mark(root));
  std::string dir = root + "/blobs/sha256";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return errno_error("cannot read", dir, errno);
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    if (is_hex64(e->d_name) && !reachable.count(std::string("sha256:") + e->d_name))
      names.push_back(e->d_name);
  }
  ::closedir(d);
  GcReport rep;
  const auto cutoff = std::chrono::system_clock::now() - grace;
  for (const auto& n : names) {
    std::string path = dir + "/" + n;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (std::chrono::system_clock::from_time_t(st.st_mtime) > cutoff) {
      ++rep.young_blobs;
      rep.young_bytes += static_cast<uint64_t>(st.st_size);
      continue;
    }
    if (::unlink(path.c_str()) != 0) {
      log_warning(errno_message("cannot remove", path, errno));
      continue;
    }
    ++rep.removed_blobs;
    rep.removed_bytes += static_cast<uint64_t>(st.st_size);
  }
  return rep;
}

}  // namespace regcache
