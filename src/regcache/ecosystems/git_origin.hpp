// Where a save comes from: the git ref and commit of the CI job, read from the variables
// each CI system sets (the entry records them: format/trust.hpp).
#pragma once

#include "regcache/format/trust.hpp"
#include "regcache/util/env.hpp"

namespace regcache {

// Returns the ref and commit from the CI environment: REGCACHE_GIT_REF/REGCACHE_GIT_COMMIT,
// else GitHub Actions, GitLab CI or Buildkite variables; empty fields when unknown.
GitOrigin git_origin_from_env(const EnvFn& env);

}  // namespace regcache
