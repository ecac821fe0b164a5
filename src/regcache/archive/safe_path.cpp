#include "regcache/archive/safe_path.hpp"

#include <algorithm>
#include <vector>

#include "regcache/util/file_entry.hpp"

namespace regcache {

namespace {
std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t slash = s.find('/', pos);
    if (slash == std::string_view::npos) slash = s.size();
    parts.push_back(s.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return parts;
}
}  // namespace

bool archive_path_too_deep(std::string_view path) {
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/')) >= kMaxPathDepth;
}

std::optional<std::string> normalize_archive_path(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return std::nullopt;
  while (path.substr(0, 2) == "./") path.remove_prefix(2);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty() || path.front() == '/') return std::nullopt;
  if (archive_path_too_deep(path)) return std::nullopt;
  for (auto part : split(path)) {
    // A whiteout is a marker, never a file: ".wh." before a name of kMaxNameBytes is fine.
    const size_t max = part.substr(0, 4) == ".wh." ? kMaxNameBytes + 4 : kMaxNameBytes;
    if (part.empty() || part == "." || part == ".." || part.size() > max) return std::nullopt;
  }
  return std::string(path);
}

// The directories above a link are real ones (the extractor creates them and never
// follows a symlink), so leading ".." components are resolved exactly. A name after them
// may be a symlink (this archive's, or another layer's), and ".." after it would climb
// from wherever that symlink leads: "s -> ." plus "t -> s/.." escapes one level, and each
// further "u -> t/.." one more. So ".." is accepted only before the first name.
bool symlink_stays_inside(std::string_view link_rel, std::string_view target) {
  if (link_rel.empty()) return false;  // the root itself: its target is beside the root
  if (target.empty() || target.front() == '/') return false;
  auto stack = split(link_rel);
  stack.pop_back();  // the link's own name
  bool named = false;
  for (auto p : split(target)) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (stack.empty() || named) return false;
      stack.pop_back();
    } else {
      named = true;
    }
  }
  return true;
}

std::string_view archive_parent(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

Error hostile_entry(std::string_view path, std::string_view why) {
  return make_error(ErrorKind::hostile,
                    "refusing cache entry " + std::string(path) + ": " + std::string(why));
}

bool archive_path_within(std::string_view path, std::string_view base) {
  return path == base || (path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
                          path[base.size()] == '/');
}

}  // namespace regcache
