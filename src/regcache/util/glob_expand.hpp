// Expands absolute glob patterns on the filesystem ('*', '?', '[...]' within a component,
// '**' across components), as shells and GitHub's hashFiles() do.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace regcache {

// Decides whether a directory is left out of glob expansion (not descended into).
using PruneFn = std::function<bool(const std::string& abs_dir)>;

// Returns the absolute paths matching an absolute glob pattern, sorted; `**` does not
// descend into directories `prune` names; '*' skips dotfiles, as the shell does.
std::vector<std::string> expand_glob(const std::string& abs_pattern,
                                     const PruneFn& prune = nullptr);

}  // namespace regcache
