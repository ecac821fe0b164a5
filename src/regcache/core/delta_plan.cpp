#include "regcache/core/delta_plan.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "regcache/archive/safe_path.hpp"
#include "regcache/archive/tar_layout.hpp"
#include "regcache/format/entry_format.hpp"

namespace regcache {

namespace {

bool whiteout_name(std::string_view path) {
  auto slash = path.rfind('/');
  return path.substr(slash == std::string_view::npos ? 0 : slash + 1, 4) == ".wh.";
}

DeltaPlan repack(std::string why) {
  DeltaPlan p;
  p.why = std::move(why);
  return p;
}

}  // namespace

DeltaPlan plan_delta(const std::vector<FileEntry>& entries, const std::vector<EntryPrint>& prints,
                     const std::vector<std::string>& roots, const DeltaBase& base) {
  if (base.files.empty()) return repack("the base entry has no file list");
  if (roots != base.roots) return repack("the roots differ from the base entry's");
  DeltaPlan plan;
  std::unordered_map<std::string_view, size_t> index;  // path -> entry
  index.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) index.emplace(entries[i].path, i);
  std::vector<char> changed(entries.size(), 0);
  size_t j = 0;                           // both lists are sorted by path
  std::vector<std::string_view> removed;  // paths of base.files
  for (size_t i = 0; i < entries.size(); ++i) {
    while (j < base.files.size() && base.files[j].path < entries[i].path)
      removed.push_back(base.files[j++].path);
    bool same = j < base.files.size() && base.files[j].path == entries[i].path &&
                base.files[j].hash == prints[i].hash && base.files[j].tar_bytes == prints[i].bytes;
    if (j < base.files.size() && base.files[j].path == entries[i].path) ++j;
    if (!same) changed[i] = 1;
  }
  while (j < base.files.size()) removed.push_back(base.files[j++].path);
  // A layer above hides a file's lower copy, so every link to a changed file moves up with
  // it, and a changed link brings its target (a delta's links point inside the delta).
  for (size_t i = 0; i < entries.size(); ++i) {
    if (changed[i] && entries[i].type == FileType::hardlink) {
      auto t = index.find(entries[i].link_target);
      if (t != index.end()) changed[t->second] = 1;
    }
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].type != FileType::hardlink) continue;
    auto t = index.find(entries[i].link_target);
    if (t != index.end() && changed[t->second]) changed[i] = 1;
  }
  // A removed path needs a whiteout unless something above it already hides it: a removed
  // ancestor, or an ancestor that is no longer a directory.
  std::unordered_set<std::string_view> gone(removed.begin(), removed.end());
  for (const auto& path : removed) {
    bool covered = false;
    for (std::string_view up = archive_parent(path); !up.empty() && !covered;
         up = archive_parent(up)) {
      auto now = index.find(up);
      covered = gone.count(up) ||
                (now != index.end() && entries[now->second].type != FileType::directory);
    }
    if (covered) continue;
    // ".wh.NAME" removed would need ".wh..wh.NAME", which reads as a marker, not a whiteout.
    if (whiteout_name(path))
      return repack(std::string(path) + " was removed and its name reads as a whiteout");
    plan.whiteouts.emplace_back(path);
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!changed[i]) continue;
    if (whiteout_name(entries[i].path))
      return repack(entries[i].path + " changed and reads as a whiteout in a delta");
    plan.changed.push_back(i);
    plan.tar_bytes += prints[i].bytes;
  }
  if (plan.changed.empty() && plan.whiteouts.empty()) {
    plan.choice = DeltaChoice::unchanged;
    plan.why = "the tree is the base entry's";
    return plan;
  }
  plan.tar_bytes += plan.whiteouts.size() * tar::kBlock + 2 * tar::kBlock;
  size_t deltas = std::count_if(base.layers.begin(), base.layers.end(), is_delta_layer);
  if (deltas >= kMaxDeltaStack)
    return repack("compacting: the base entry has " + std::to_string(deltas) + " delta layers");
  uint64_t stored = plan.tar_bytes, visible = 2 * tar::kBlock * (base.layers.size() + 1);
  for (const auto& l : base.layers) {
    auto bytes = declared_tar_size(l);
    if (!bytes) return repack("a layer of the base entry does not declare its tar size");
    stored += *bytes;
  }
  for (const auto& p : prints) visible += p.bytes;
  uint64_t hidden = stored > visible ? stored - visible : 0;
  if (hidden > kMaxHiddenShare * static_cast<double>(stored))
    return repack("compacting: " + std::to_string(hidden * 100 / std::max<uint64_t>(stored, 1)) +
                  "% of the layers' bytes would be hidden");
  plan.choice = DeltaChoice::delta;
  plan.why = std::to_string(plan.changed.size()) + " entries changed, " +
             std::to_string(plan.whiteouts.size()) + " removed";
  return plan;
}

}  // namespace regcache
