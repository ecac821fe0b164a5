// Walks a file tree without following symlinks and lists what it holds.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "regcache/util/file_entry.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

// Decides whether a path (relative to the walked root) is left out of the walk.
using ExcludeFn = std::function<bool(const std::string& rel)>;

// Lists `source` (a file, symlink or directory, itself included) with archive paths
// under `archive_root`, sorted by archive path; hard links to an earlier entry become
// FileType::hardlink. Sockets, FIFOs and device nodes are skipped with a warning. Up to
// `threads` threads read directories at once (`exclude` must be safe to call from them);
// the result does not depend on how many.
Result<std::vector<FileEntry>> walk_tree(const std::string& source, const std::string& archive_root,
                                         const ExcludeFn& exclude, size_t threads = 1);

}  // namespace regcache
