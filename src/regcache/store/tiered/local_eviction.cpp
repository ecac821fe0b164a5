#include "regcache/store/tiered/local_eviction.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "regcache/store/oci_layout/layout_forget.hpp"
#include "regcache/util/dir_path.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

struct Blob {
  std::string name;
  uint64_t size;
  struct timespec used;
};

}  // namespace

Result<EvictionReport> evict_least_recently_used(const std::string& root, uint64_t max_bytes) {
  auto dir = RC_TRY(open_directory(root, MissingDirs::error));
  auto blobs_fd = RC_TRY(open_dir_below(dir.fd.get(), "blobs/sha256"));
  std::vector<Blob> blobs;
  EvictionReport rep;
  for (const auto& n : list_dir(blobs_fd.get())) {
    struct stat st {};
    if (!is_sha256_hex(n) || ::fstatat(blobs_fd.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    blobs.push_back({n, static_cast<uint64_t>(st.st_size), st.st_mtim});
    rep.kept_bytes += static_cast<uint64_t>(st.st_size);
  }
  std::sort(blobs.begin(), blobs.end(), [](const Blob& a, const Blob& b) {
    return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec < b.used.tv_sec
                                          : a.used.tv_nsec < b.used.tv_nsec;
  });
  for (const auto& b : blobs) {
    if (rep.kept_bytes <= max_bytes) break;
    // Used since it was listed (another job checked it, or put it back): it is not the least
    // recently used any more.
    struct stat now {};
    if (::fstatat(blobs_fd.get(), b.name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
        (now.st_mtim.tv_sec != b.used.tv_sec || now.st_mtim.tv_nsec != b.used.tv_nsec))
      continue;
    if (::unlinkat(blobs_fd.get(), b.name.c_str(), 0) != 0) {
      if (errno != ENOENT) {
        log_warning(errno_message("cannot remove", root + "/blobs/sha256/" + b.name, errno));
        continue;
      }
      rep.kept_bytes -= b.size;  // another process evicted it first
      continue;
    }
    rep.kept_bytes -= b.size;
    rep.removed_bytes += b.size;
    ++rep.removed_blobs;
  }
  // The tags of entries a blob of which was evicted go too: the fallback cannot use them,
  // and each key would stay in index.json forever.
  if (rep.removed_blobs > 0) {
    auto forgotten = forget_missing_manifests(root);
    if (!forgotten.ok())
      log_verbose("local cache: " + forgotten.error().message);
    else
      rep.forgotten_entries = *forgotten;
  }
  return rep;
}

}  // namespace regcache
