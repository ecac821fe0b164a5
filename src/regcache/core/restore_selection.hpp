// Which parts of an entry a restore writes. An entry names its roots (ws/…, home/…,
// abs/…), and whoever saved it chose them: a restore writes only the paths the job asked
// for, or, when it asked for none, only the roots inside the workspace.
#pragma once

#include <string>
#include <vector>

namespace regcache {

enum class PathOrigin { named, preset };  // given by the user, or by a preset
enum class AllRoots { no, yes };          // --all-roots: every root when no path is named

struct WantedPath {
  std::string archive;  // archive form ("ws/target", "home/.npm/_cacache"); may be a glob
  PathOrigin origin = PathOrigin::named;
};

struct RootPick {
  std::string prefix;  // what is extracted: a root of the entry, or a path inside one
  std::string scope;   // the root that holds it (hard links may point anywhere inside it)
};

struct Selection {
  std::vector<RootPick> picks;        // sorted, none inside another
  std::vector<std::string> skipped;   // roots of the entry left out
  std::vector<std::string> unheld;    // named paths no root of the entry holds or contains
  std::vector<std::string> optional;  // preset paths the entry does not hold (not an error)
};

// Chooses what to restore from an entry's roots: with wanted paths, the roots they name
// or contain and the paths they name inside a root; without, the roots under "ws" (every
// root with AllRoots::yes).
Selection select_roots(const std::vector<std::string>& roots, const std::vector<WantedPath>& wanted,
                       AllRoots all);

}  // namespace regcache
