#include "regcache/core/cache_paths.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "regcache/util/glob.hpp"
#include "regcache/util/glob_expand.hpp"

namespace regcache {

namespace {

bool path_present(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
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
        return make_error(ErrorKind::not_found, "path not found: " + p);
      continue;
    }
    sources.push_back(abs);
  }
  for (const auto& e : excludes) RC_CHECK(add_exclude(e));
  for (const auto& s : sources) spec.roots.push_back({s, anchor_path(anchors, s)});
  return normalized(std::move(spec));
}

PathSpec normalized(PathSpec spec) {
  std::sort(spec.roots.begin(), spec.roots.end(),
            [](const CacheRoot& a, const CacheRoot& b) { return a.archive < b.archive; });
  std::vector<CacheRoot> kept;
  for (const auto& r : spec.roots) {
    bool inside = std::any_of(kept.begin(), kept.end(), [&](const CacheRoot& k) {
      return r.archive == k.archive || r.archive.rfind(k.archive + "/", 0) == 0;
    });
    if (!inside) kept.push_back(r);
  }
  spec.roots = std::move(kept);
  return spec;
}

ExcludeFn exclude_filter(const PathSpec& spec, const CacheRoot& root) {
  if (spec.excludes.empty()) return nullptr;
  return [&spec, source = root.source](const std::string& rel) {
    std::string abs = source + "/" + rel;
    std::string base = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
    for (const auto& pat : spec.excludes) {
      if (pat[0] == '/' ? glob_match(pat, abs) : glob_match(pat, base)) return true;
    }
    return false;
  };
}

}  // namespace regcache
