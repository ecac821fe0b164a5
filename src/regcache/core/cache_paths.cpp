#include "regcache/core/cache_paths.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "regcache/util/glob.hpp"
#include "regcache/util/glob_expand.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/utf8.hpp"

namespace regcache {

namespace {

bool path_present(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// Says so when a root left to the root `outer` it lies in is reached through a symlink
// inside outer (or is one): outer's walk keeps the link, not what it leads to, so that
// content is not saved although the path was named.
void warn_if_behind_symlink(const CacheRoot& outer, const CacheRoot& inner) {
  if (inner.source.rfind(outer.source + "/", 0) != 0) return;
  for (size_t pos = outer.source.size() + 1; pos <= inner.source.size();) {
    size_t slash = inner.source.find('/', pos);
    if (slash == std::string::npos) slash = inner.source.size();
    const std::string step = inner.source.substr(0, slash);
    struct stat st {};
    if (::lstat(step.c_str(), &st) != 0) return;
    if (S_ISLNK(st.st_mode)) {
      log_warning("not saving " + inner.source + " on its own: it lies in " + outer.source +
                  ", whose entry keeps the symlink " + step +
                  " and not what it leads to (name the link's target to save that)");
      return;
    }
    pos = slash + 1;
  }
}

// True when an exclude pattern matches the absolute path abs: an absolute pattern the
// whole path, a bare one its last component.
bool excluded(const std::vector<std::string>& excludes, const std::string& abs) {
  const std::string base = abs.substr(abs.rfind('/') + 1);
  return std::any_of(excludes.begin(), excludes.end(), [&](const std::string& pat) {
    return pat[0] == '/' ? glob_match(pat, abs) : glob_match(pat, base);
  });
}

}  // namespace

Result<PathSpec> resolve_paths(const std::vector<std::string>& paths,
                               const std::vector<std::string>& excludes, const Anchors& anchors,
                               MissingPaths missing) {
  PathSpec spec;
  std::vector<std::string> sources;
  auto add_exclude = [&](const std::string& pat) -> Status {
    if (pat.find('/') == std::string::npos && pat.find('~') != 0) {
      spec.excludes.push_back(pat);
      return {};
    }
    spec.excludes.push_back(RC_TRY(absolute_path(pat, anchors.home)));
    return {};
  };
  for (const auto& p : paths) {
    if (p.empty()) continue;
    if (p[0] == '!') {
      RC_CHECK(add_exclude(p.substr(1)));
      continue;
    }
    std::string abs = RC_TRY(absolute_path(p, anchors.home));
    if (has_glob_chars(abs)) {
      auto matches = expand_glob(abs);
      if (matches.empty() && missing == MissingPaths::error) {
        return make_error(ErrorKind::not_found, "no file matches path pattern " + p);
      }
      sources.insert(sources.end(), matches.begin(), matches.end());
      continue;
    }
    if (!path_present(abs)) {
      if (missing == MissingPaths::error)
        return make_error(ErrorKind::not_found, "path not found: " + escaped_bytes(p));
      continue;
    }
    sources.push_back(abs);
  }
  for (const auto& e : excludes) RC_CHECK(add_exclude(e));
  // A path a pattern or a name brought in is excluded like any path below it
  // ('src/*.txt' '!src/a.txt' leaves a.txt out, as actions/cache does).
  for (const auto& s : sources) {
    if (excluded(spec.excludes, s)) continue;
    // The entry names its roots in JSON, which holds text: a name of other bytes cannot go
    // there (names below a root can: the layers and file lists hold bytes).
    std::string archive = anchor_path(anchors, s);
    if (!is_valid_utf8(archive))
      return make_error(ErrorKind::usage, "a cached path must be valid UTF-8: " + escaped_bytes(s));
    spec.roots.push_back({s, std::move(archive)});
  }
  return normalized(std::move(spec));
}

PathSpec normalized(PathSpec spec) {
  std::sort(spec.roots.begin(), spec.roots.end(),
            [](const CacheRoot& a, const CacheRoot& b) { return a.archive < b.archive; });
  std::vector<CacheRoot> kept;
  for (const auto& r : spec.roots) {
    auto outer = std::find_if(kept.begin(), kept.end(), [&](const CacheRoot& k) {
      return r.archive == k.archive || r.archive.rfind(k.archive + "/", 0) == 0;
    });
    if (outer == kept.end())
      kept.push_back(r);
    else
      warn_if_behind_symlink(*outer, r);
  }
  spec.roots = std::move(kept);
  return spec;
}

ExcludeFn exclude_filter(const PathSpec& spec, const CacheRoot& root) {
  if (spec.excludes.empty()) return nullptr;
  return [&spec, source = root.source](const std::string& rel) {
    return excluded(spec.excludes, source + "/" + rel);
  };
}

}  // namespace regcache
