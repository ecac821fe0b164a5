// Where a save comes from: the git ref and commit of the CI job, recorded in the entry so
// that a restore can refuse caches written by untrusted refs (cache poisoning).
#pragma once

#include <string>
#include <vector>

#include "regcache/util/env.hpp"

namespace regcache {

struct GitOrigin {
  std::string ref;     // e.g. "refs/heads/main", "refs/tags/v1.2", "refs/pull/7/merge"
  std::string commit;  // full SHA
};

// Returns the ref and commit from the CI environment: REGCACHE_GIT_REF/REGCACHE_GIT_COMMIT,
// else GitHub Actions, GitLab CI or Buildkite variables; empty fields when unknown.
GitOrigin git_origin_from_env(const EnvFn& env);

// Returns true when ref matches one of the patterns (globs: '*' within one component,
// '**' across components). An empty ref (entry from an unknown origin) matches nothing.
bool ref_trusted(const std::string& ref, const std::vector<std::string>& patterns);

}  // namespace regcache
