#include "regcache/util/glob_expand.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "regcache/util/fs.hpp"
#include "regcache/util/glob.hpp"

namespace regcache {

namespace {

bool entry_exists(const std::string& p) {
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
    if (entry_exists(base.empty() ? "/" : base)) out.push_back(base.empty() ? "/" : base);
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
  expand("", path_components(abs_pattern), 0, out, prune);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace regcache
