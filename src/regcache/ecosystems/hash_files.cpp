// GitHub's hashFiles() hashes each matched file with SHA-256 and hashes the concatenation
// of those digests; we do the same, over files sorted by their path relative to the base
// directory (byte order), so a user can predict the value with
//   for f in $(sorted matches); do sha256sum "$f"; done | ... (see docs/keys.md).
// `**` does not descend into .git or into directories excluded with "!.../**"; matches
// are regular files only.
#include "regcache/ecosystems/hash_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "regcache/format/anchor.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/glob.hpp"
#include "regcache/util/glob_expand.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

Result<std::string> file_digest_raw(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("cannot open", path, errno);
  Sha256 h;
  RC_CHECK(read_chunks(fd.get(), path, [&](const char* data, size_t size) {
    h.update(data, size);
    return Status{};
  }));
  return h.raw_final();
}

bool is_regular(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Result<std::string> hash_files(const std::vector<std::string>& patterns, const std::string& base,
                               EmptyMatch empty) {
  std::vector<std::string> includes, excludes;
  for (const auto& p : patterns) {
    if (p.empty()) continue;
    bool negate = p[0] == '!';
    std::string pat = negate ? p.substr(1) : p;
    std::string abs = pat[0] == '/' ? pat : base + "/" + pat;
    (negate ? excludes : includes).push_back(RC_TRY(absolute_path(abs, base)));
  }
  std::vector<std::string> files;
  // `**` never descends into .git, nor into a directory an exclusion ending in /** names.
  auto prune = [&](const std::string& dir) {
    if (dir.size() >= 5 && dir.compare(dir.size() - 5, 5, "/.git") == 0) return true;
    return std::any_of(excludes.begin(), excludes.end(), [&](const std::string& ex) {
      return ex.size() > 3 && ex.compare(ex.size() - 3, 3, "/**") == 0 &&
             glob_match(ex.substr(0, ex.size() - 3), dir);
    });
  };
  for (const auto& inc : includes) {
    for (auto& m : expand_glob(inc, prune)) {
      if (!is_regular(m)) continue;
      bool excluded = std::any_of(excludes.begin(), excludes.end(),
                                  [&](const std::string& ex) { return glob_match(ex, m); });
      if (!excluded) files.push_back(std::move(m));
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  if (files.empty()) {
    if (empty == EmptyMatch::allow) return std::string();
    std::string list;
    for (const auto& p : patterns) list += (list.empty() ? "" : " ") + p;
    return make_error(ErrorKind::not_found, "hashFiles: no file matches " + list + " (under " +
                                                base +
                                                "); use --allow-empty to accept an empty hash");
  }
  std::string concat;
  for (const auto& f : files) concat += RC_TRY(file_digest_raw(f));
  return sha256_hex(concat);
}

}  // namespace regcache
