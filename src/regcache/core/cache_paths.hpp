// Turns the user's path arguments (with '~', globs and '!' exclusions) into cache roots:
// what to read on disk and under which archive path to store it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "regcache/format/anchor.hpp"
#include "regcache/util/result.hpp"
#include "regcache/util/walk.hpp"

namespace regcache {

struct CacheRoot {
  std::string source;   // absolute path on disk
  std::string archive;  // "ws/target", "home/.npm", "abs/opt/x"
};

struct PathSpec {
  std::vector<CacheRoot> roots;       // sorted by archive path, none inside another
  std::vector<std::string> excludes;  // absolute glob patterns, or basename patterns (no '/')
};

enum class MissingPaths { error, skip };

// Resolves paths (positional, --path, and "!pattern" exclusions) plus --exclude globs.
Result<PathSpec> resolve_paths(const std::vector<std::string>& paths,
                               const std::vector<std::string>& excludes, const Anchors& anchors,
                               MissingPaths missing);

// Returns spec with its roots sorted and de-duplicated (none inside another).
PathSpec normalized(PathSpec spec);

// Returns the walk filter for a root: true for paths the spec excludes.
ExcludeFn exclude_filter(const PathSpec& spec, const CacheRoot& root);

}  // namespace regcache
