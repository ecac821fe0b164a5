#include "regcache/archive/safe_path.hpp"

#include <vector>

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

std::optional<std::string> normalize_archive_path(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return std::nullopt;
  while (path.substr(0, 2) == "./") path.remove_prefix(2);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty() || path.front() == '/') return std::nullopt;
  for (auto part : split(path)) {
    if (part.empty() || part == "." || part == "..") return std::nullopt;
  }
  return std::string(path);
}

bool symlink_stays_inside(std::string_view link_rel, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  std::vector<std::string_view> stack;
  auto link_parts = split(link_rel);
  link_parts.pop_back();  // the link's own name
  for (auto p : link_parts) stack.push_back(p);
  for (auto p : split(target)) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (stack.empty()) return false;
      stack.pop_back();
    } else {
      stack.push_back(p);
    }
  }
  return true;
}

}  // namespace regcache
