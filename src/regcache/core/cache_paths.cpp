#include "regcache/core/cache_paths.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "regcache/util/glob.hpp"

namespace regcache {

namespace {

std::vector<std::string> split_components(const std::string& abs) {
  std::vector<std::string> parts;
  size_t pos = 1;
  while (pos <= abs.size()) {
    size_t slash = abs.find('/', pos);
    if (slash == std::string::npos) slash = abs.size();
    if (slash > pos) parts.push_back(abs.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return parts;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> children(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void expand(const std::string& base, const std::vector<std::string>& parts, size_t i,
            std::vector<std::string>& out, const PruneFn& prune) {
  if (i == parts.size()) {
    if (exists(base.empty() ? "/" : base)) out.push_back(base.empty() ? "/" : base);
    return;
  }
  const std::string& part = parts[i];
  if (part == "**") {
    expand(base, parts, i + 1, out, prune);  // zero components
    for (const auto& c : children(base.empty() ? "/" : base)) {
      std::string p = base + "/" + c;
      if (is_dir(p)) {
        if (!prune || !prune(p)) expand(p, parts, i, out, prune);
      } else if (i + 1 == parts.size()) {
        out.push_back(p);
      } else {
        expand(p, parts, i + 1, out, prune);
      }
    }
    return;
  }
  if (!has_glob_chars(part)) {
    expand(base + "/" + part, parts, i + 1, out, prune);
    return;
  }
  for (const auto& c : children(base.empty() ? "/" : base)) {
    if (c[0] == '.' && part[0] != '.') continue;  // like the shell: '*' skips dotfiles
    if (glob_match(part, c)) expand(base + "/" + c, parts, i + 1, out, prune);
  }
}

}  // namespace

std::vector<std::string> expand_glob(const std::string& abs_pattern, const PruneFn& prune) {
  std::vector<std::string> out;
  expand("", split_components(abs_pattern), 0, out, prune);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

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
    if (!exists(abs)) {
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
