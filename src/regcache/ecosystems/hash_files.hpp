// hashFiles(): one digest for the files matching a set of globs, as GitHub's hashFiles()
// computes it, so a key changes exactly when a lockfile does.
#pragma once

#include <string>
#include <vector>

#include "regcache/util/result.hpp"

namespace regcache {

enum class EmptyMatch { error, allow };

// Matches patterns (relative to base unless absolute; "!pattern" excludes) against the
// regular files under base, sorts the matches by path, and returns the lowercase hex
// SHA-256 of the concatenated raw SHA-256 digests of their contents. No match is an error
// naming the patterns, unless empty == allow (then the result is "").
Result<std::string> hash_files(const std::vector<std::string>& patterns, const std::string& base,
                               EmptyMatch empty);

}  // namespace regcache
