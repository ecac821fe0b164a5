// Marks are kept only for the delta layers, which are small by construction (docs/format.md,
// "Delta layers"), so the base layers, which hold nearly every file, are never read twice.
#include "regcache/archive/layer_mask.hpp"

#include "regcache/archive/safe_path.hpp"

namespace regcache {

namespace {

constexpr std::string_view kPrefix = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

Error hostile(const std::string& path, std::string_view why) {
  return make_error(ErrorKind::hostile, "refusing cache entry " + path + ": " + std::string(why));
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

}  // namespace

Result<std::optional<Whiteout>> whiteout_of(const std::string& path) {
  auto slash = path.rfind('/');
  std::string_view base = slash == std::string::npos ? std::string_view(path)
                                                     : std::string_view(path).substr(slash + 1);
  if (base.substr(0, kPrefix.size()) != kPrefix) return std::optional<Whiteout>();
  std::string dir = parent_of(path);
  if (base == kOpaque) return std::optional<Whiteout>(Whiteout{Whiteout::Kind::opaque, dir});
  std::string_view name = base.substr(kPrefix.size());
  if (name.empty() || name == "." || name == ".." || name.substr(0, kPrefix.size()) == kPrefix)
    return hostile(path, "malformed whiteout");
  std::string target = dir.empty() ? std::string(name) : dir + "/" + std::string(name);
  return std::optional<Whiteout>(Whiteout{Whiteout::Kind::remove, target});
}

void LayerMask::add(size_t layer, const std::vector<std::pair<std::string, int>>& marks) {
  for (const auto& [path, kinds] : marks) {
    auto& list = marks_[path];
    if (!list.empty() && list.back().layer == layer) {
      list.back().kinds |= kinds;
    } else {
      list.push_back({layer, kinds});
    }
  }
}

Visibility LayerMask::visibility(size_t layer, const std::string& path, bool is_dir) const {
  bool stated_above = false;
  if (auto it = marks_.find(path); it != marks_.end()) {
    for (const Mark& m : it->second) {
      if (m.layer <= layer) continue;
      if (m.kinds & (file | removed)) return Visibility::hidden;
      if (!is_dir) return Visibility::hidden;  // a directory above replaces it
      if (m.kinds & dir) stated_above = true;
    }
  }
  for (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0;
       slash = path.rfind('/', slash - 1)) {
    auto it = marks_.find(path.substr(0, slash));
    if (it == marks_.end()) continue;
    for (const Mark& m : it->second) {
      if (m.layer > layer && (m.kinds & (file | removed | opaque))) return Visibility::hidden;
    }
  }
  return stated_above ? Visibility::merged_dir : Visibility::shown;
}

bool LayerMask::holds_file(size_t layer, const std::string& path) const {
  auto it = marks_.find(path);
  if (it == marks_.end()) return false;
  for (const Mark& m : it->second) {
    if (m.layer == layer && (m.kinds & file)) return true;
  }
  return false;
}

void LayerScan::mark(const std::string& path, int kind) {
  marks_.emplace_back(path, kind);
  // Every directory above a path the layer holds is a directory in this layer too.
  for (std::string up = parent_of(path); !up.empty(); up = parent_of(up)) {
    if (!implied_.insert(up).second) break;
    marks_.emplace_back(up, LayerMask::implied_dir);
  }
}

Status LayerScan::begin(const TarHeader& h) {
  auto path = normalize_archive_path(h.path);
  if (!path) return hostile(h.path.substr(0, 200), "unsafe path");
  auto wo = RC_TRY(whiteout_of(*path));
  if (!wo) {
    mark(*path, h.typeflag == '5' ? LayerMask::dir : LayerMask::file);
    return {};
  }
  if (h.typeflag != '0' || h.size != 0) return hostile(*path, "whiteout that is not an empty file");
  bool inside = false;
  for (const auto& root : roots_) {
    bool within = archive_path_within(wo->target, root);
    if (within && (wo->kind == Whiteout::Kind::opaque || wo->target != root)) inside = true;
  }
  // A whiteout hides what the layers below hold; one above a root, or of a root itself,
  // would stand for removing what the job has there, which no restore does.
  if (!inside) return hostile(*path, "whiteout outside the cache roots");
  mark(wo->target, wo->kind == Whiteout::Kind::remove ? LayerMask::removed
                                                      : LayerMask::opaque | LayerMask::implied_dir);
  return {};
}

}  // namespace regcache
