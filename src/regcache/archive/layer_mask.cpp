// Marks are kept only for the delta layers, which are small by construction (docs/format.md,
// "Delta layers"), so the base layers, which hold nearly every file, are never read twice.
#include "regcache/archive/layer_mask.hpp"

#include <algorithm>
#include <functional>
#include <string_view>
#include <unordered_map>

#include "regcache/archive/safe_path.hpp"

namespace regcache {

namespace {

constexpr std::string_view kPrefix = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

}  // namespace

Result<std::optional<Whiteout>> whiteout_of(const std::string& path) {
  auto slash = path.rfind('/');
  std::string_view base = slash == std::string::npos ? std::string_view(path)
                                                     : std::string_view(path).substr(slash + 1);
  if (base.substr(0, kPrefix.size()) != kPrefix) return std::optional<Whiteout>();
  std::string dir(archive_parent(path));
  if (base == kOpaque) return std::optional<Whiteout>(Whiteout{Whiteout::Kind::opaque, dir});
  std::string_view name = base.substr(kPrefix.size());
  if (name.empty() || name == "." || name == ".." || name.substr(0, kPrefix.size()) == kPrefix)
    return hostile_entry(path, "malformed whiteout");
  std::string target = dir.empty() ? std::string(name) : dir + "/" + std::string(name);
  return std::optional<Whiteout>(Whiteout{Whiteout::Kind::remove, target});
}

namespace {

// Calls f(component, last) for each component of a normalized path, stopping early when f
// returns false.
template <typename F>
void for_each_component(const std::string& path, F f) {
  size_t pos = 0;
  while (true) {
    size_t slash = path.find('/', pos);
    bool last = slash == std::string::npos;
    std::string_view comp(path.data() + pos, (last ? path.size() : slash) - pos);
    if (!f(comp, last) || last) return;
    pos = slash + 1;
  }
}

}  // namespace

struct LayerMask::Node {
  // Looks children up by a view of the path, without a string per component.
  struct ViewHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Mark {
    size_t layer;
    int kinds;
  };
  std::unordered_map<std::string, std::unique_ptr<Node>, ViewHash, std::equal_to<>> kids;
  std::vector<Mark> marks;

  void mark(size_t layer, int kinds) {
    if (!marks.empty() && marks.back().layer == layer) {
      marks.back().kinds |= kinds;
    } else {
      marks.push_back({layer, kinds});
    }
  }
};

LayerMask::LayerMask() : root_(std::make_unique<Node>()) {}
LayerMask::~LayerMask() = default;
LayerMask::LayerMask(LayerMask&&) noexcept = default;
LayerMask& LayerMask::operator=(LayerMask&&) noexcept = default;

Status LayerMask::add(size_t layer, const std::vector<std::pair<std::string, int>>& marks) {
  for (const auto& mark : marks) {
    // Named, not bound: clang 14 (the fuzz build) cannot capture structured bindings.
    const std::string& path = mark.first;
    const int kinds = mark.second;
    Node* node = root_.get();
    size_t depth = 0;
    Status st;
    for_each_component(path, [&](std::string_view comp, bool last) {
      if (++depth > kMaxDepth) {
        st = hostile_entry(path.substr(0, 200), "path deeper than " + std::to_string(kMaxDepth));
        return false;
      }
      auto it = node->kids.find(comp);
      if (it == node->kids.end()) {
        if (++paths_ > kMaxPaths) {
          st = make_error(ErrorKind::hostile,
                          "refusing cache entry: its delta layers name more than " +
                              std::to_string(kMaxPaths) + " paths");
          return false;
        }
        it = node->kids.emplace(std::string(comp), std::make_unique<Node>()).first;
      }
      node = it->second.get();
      // Every directory above a path the layer holds is a directory in this layer too.
      node->mark(layer, last ? kinds : implied_dir);
      return true;
    });
    RC_CHECK(st);
  }
  return {};
}

const LayerMask::Node* LayerMask::find(const std::string& path) const {
  const Node* node = root_.get();
  for_each_component(path, [&](std::string_view comp, bool) {
    auto it = node->kids.find(comp);
    node = it == node->kids.end() ? nullptr : it->second.get();
    return node != nullptr;
  });
  return node;
}

Visibility LayerMask::visibility(size_t layer, const std::string& path, bool is_dir) const {
  const Node* node = root_.get();
  bool hidden = false;
  for_each_component(path, [&](std::string_view comp, bool last) {
    auto it = node->kids.find(comp);
    node = it == node->kids.end() ? nullptr : it->second.get();
    if (!node || last) return false;
    for (const auto& m : node->marks) {  // a strict ancestor of the path
      if (m.layer > layer && (m.kinds & (file | removed | opaque))) hidden = true;
    }
    return !hidden;
  });
  if (hidden) return Visibility::hidden;
  if (!node) return Visibility::shown;  // no layer above marks it
  bool stated_above = false;
  for (const auto& m : node->marks) {
    if (m.layer <= layer) continue;
    if (m.kinds & (file | removed)) return Visibility::hidden;
    if (!is_dir) return Visibility::hidden;  // a directory above replaces it
    if (m.kinds & dir) stated_above = true;
  }
  return stated_above ? Visibility::merged_dir : Visibility::shown;
}

bool LayerMask::holds_file(size_t layer, const std::string& path) const {
  const Node* node = find(path);
  if (!node) return false;
  for (const auto& m : node->marks) {
    if (m.layer == layer && (m.kinds & file)) return true;
  }
  return false;
}

Status LayerScan::count(const std::string& path) {
  if (static_cast<size_t>(std::count(path.begin(), path.end(), '/')) >= LayerMask::kMaxDepth)
    return hostile_entry(path.substr(0, 200),
                         "path deeper than " + std::to_string(LayerMask::kMaxDepth));
  if (budget_->paths.fetch_add(1) >= LayerMask::kMaxPaths ||
      budget_->bytes.fetch_add(path.size()) >= kMaxPathBytes)
    return make_error(ErrorKind::hostile, "refusing cache entry: its delta layers name more than " +
                                              std::to_string(LayerMask::kMaxPaths) + " paths or " +
                                              std::to_string(kMaxPathBytes >> 20) + " MiB of them");
  return {};
}

Status LayerScan::begin(const TarHeader& h) {
  auto path = normalize_archive_path(h.path);
  if (!path) return hostile_entry(h.path.substr(0, 200), "unsafe path");
  RC_CHECK(count(*path));
  auto wo = RC_TRY(whiteout_of(*path));
  if (!wo) {
    marks_.emplace_back(*path, h.typeflag == '5' ? LayerMask::dir : LayerMask::file);
    return {};
  }
  if (h.typeflag != '0' || h.size != 0)
    return hostile_entry(*path, "whiteout that is not an empty file");
  bool inside = false;
  for (const auto& root : roots_) {
    bool within = archive_path_within(wo->target, root);
    if (within && (wo->kind == Whiteout::Kind::opaque || wo->target != root)) inside = true;
  }
  // A whiteout hides what the layers below hold; one above a root, or of a root itself,
  // would stand for removing what the job has there, which no restore does.
  if (!inside) return hostile_entry(*path, "whiteout outside the cache roots");
  marks_.emplace_back(wo->target, wo->kind == Whiteout::Kind::remove
                                      ? LayerMask::removed
                                      : LayerMask::opaque | LayerMask::implied_dir);
  return {};
}

}  // namespace regcache
