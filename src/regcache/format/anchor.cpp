#include "regcache/format/anchor.hpp"

#include <unistd.h>

#include <filesystem>
#include <vector>

#include "regcache/archive/safe_path.hpp"

namespace regcache {

namespace {

std::string normalize(const std::string& abs) {
  std::vector<std::string> parts;
  size_t pos = 1;
  while (pos <= abs.size()) {
    size_t slash = abs.find('/', pos);
    if (slash == std::string::npos) slash = abs.size();
    std::string p = abs.substr(pos, slash - pos);
    pos = slash + 1;
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(p);
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

bool inside(const std::string& base, const std::string& path) {
  if (base.empty() || base == "/") return false;
  return path == base || (path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
                          path[base.size()] == '/');
}

}  // namespace

Result<std::string> absolute_path(std::string_view path, const std::string& home) {
  if (path.empty()) return make_error(ErrorKind::usage, "empty path");
  std::string p(path);
  if (p == "~" || p.rfind("~/", 0) == 0) {
    if (home.empty()) {
      return make_error(ErrorKind::usage,
                        "'" + p +
                            "' names the home directory, but there is none (HOME is unset "
                            "and this user has none in the passwd database)");
    }
    p = home + p.substr(1);
  }
  if (p[0] != '/') {
    std::error_code ec;
    auto cwd = std::filesystem::current_path(ec);
    if (ec) return make_error(ErrorKind::io, "cannot read the current directory: " + ec.message());
    p = cwd.string() + "/" + p;
  }
  return normalize(p);
}

std::string anchor_path(const Anchors& a, const std::string& abs) {
  const std::pair<const std::string*, const char*> anchors[] = {
      {&a.workspace, "ws"}, {&a.workspace_real, "ws"}, {&a.home, "home"}, {&a.home_real, "home"}};
  const std::pair<const std::string*, const char*>* best = nullptr;
  for (const auto& anchor : anchors) {
    if (inside(*anchor.first, abs) && (!best || anchor.first->size() > best->first->size()))
      best = &anchor;
  }
  if (!best) return abs == "/" ? "abs" : "abs" + abs;
  return std::string(best->second) + abs.substr(best->first->size());
}

Result<std::string> resolve_anchor(const Anchors& a, std::string_view root) {
  auto norm = normalize_archive_path(root);
  if (!norm) return make_error(ErrorKind::hostile, "unsafe cache root: " + std::string(root));
  std::string r = *norm;
  auto slash = r.find('/');
  std::string anchor = r.substr(0, slash);
  std::string rest = slash == std::string::npos ? "" : r.substr(slash);
  if (anchor == "ws") return a.workspace + rest;
  if (anchor == "home") {
    if (a.home.empty())
      return make_error(ErrorKind::usage,
                        "cache root " + r + " is under a home directory, but there is none");
    return a.home + rest;
  }
  if (anchor == "abs") return rest.empty() ? std::string("/") : rest;
  return make_error(ErrorKind::integrity, "cache root with unknown anchor: " + r);
}

}  // namespace regcache
