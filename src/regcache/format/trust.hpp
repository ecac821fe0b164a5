// Where an entry comes from, as it records it (dev.regcache.ref, dev.regcache.commit), and
// whether a restore or a save trusts that origin (--trust): the defence against cache
// poisoning by mistake; signed entries (planned) will be the one against an attacker
// (docs/security.md).
#pragma once

#include <string>
#include <vector>

namespace regcache {

struct GitOrigin {
  std::string ref;     // e.g. "refs/heads/main", "refs/tags/v1.2", "refs/pull/7/merge"
  std::string commit;  // full SHA
};

// Returns true when ref matches one of the patterns (globs: '*' within one component,
// '**' across components). An empty ref (entry from an unknown origin) matches nothing.
bool ref_trusted(const std::string& ref, const std::vector<std::string>& patterns);

}  // namespace regcache
