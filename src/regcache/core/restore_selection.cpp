#include "regcache/core/restore_selection.hpp"

#include <algorithm>

#include "regcache/archive/safe_path.hpp"
#include "regcache/util/glob.hpp"

namespace regcache {

namespace {

// True when a glob names the root or one of the directories above it.
bool glob_names_root(const std::string& pattern, const std::string& root) {
  for (size_t end = root.find('/');; end = root.find('/', end + 1)) {
    if (glob_match(pattern, root.substr(0, end))) return true;
    if (end == std::string::npos) return false;
  }
}

void add_pick(std::vector<RootPick>& picks, RootPick p) {
  for (const auto& q : picks) {
    if (archive_path_within(p.prefix, q.prefix)) return;  // inside one already picked
  }
  picks.erase(
      std::remove_if(picks.begin(), picks.end(),
                     [&](const RootPick& q) { return archive_path_within(q.prefix, p.prefix); }),
      picks.end());
  picks.push_back(std::move(p));
}

}  // namespace

Selection select_roots(const std::vector<std::string>& roots, const std::vector<WantedPath>& wanted,
                       AllRoots all) {
  Selection out;
  if (wanted.empty()) {
    for (const auto& r : roots) {
      if (all == AllRoots::yes || archive_path_within(r, "ws"))
        add_pick(out.picks, {r, r});
      else
        out.skipped.push_back(r);
    }
  }
  for (const auto& w : wanted) {
    bool held = false;
    const bool glob = has_glob_chars(w.archive);
    for (const auto& r : roots) {
      if (glob ? glob_names_root(w.archive, r) : archive_path_within(r, w.archive)) {
        add_pick(out.picks, {r, r});  // the root itself, or a root inside the wanted path
        held = true;
      } else if (!glob && archive_path_within(w.archive, r)) {
        add_pick(out.picks, {w.archive, r});  // a path inside the root
        held = true;
      }
    }
    if (!held) (w.origin == PathOrigin::named ? out.unheld : out.optional).push_back(w.archive);
  }
  if (!wanted.empty()) {
    for (const auto& r : roots) {
      bool picked = std::any_of(out.picks.begin(), out.picks.end(),
                                [&](const RootPick& p) { return p.scope == r; });
      if (!picked) out.skipped.push_back(r);
    }
  }
  std::sort(out.picks.begin(), out.picks.end(),
            [](const RootPick& a, const RootPick& b) { return a.prefix < b.prefix; });
  return out;
}

}  // namespace regcache
