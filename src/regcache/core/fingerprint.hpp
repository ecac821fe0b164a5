// Pack fingerprints: a fast hash of everything a pack's tar would hold, so a save can tell
// that a pack equals a layer of its base entry without compressing or uploading it.
#pragma once

#include <string>
#include <vector>

#include "regcache/core/pack_plan.hpp"
#include "regcache/util/file_entry.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

// Returns "xxh3-128:<hex>" over each entry's path, type, mode, size, mtime, link target and
// content, in pack order; an error when a file cannot be read.
Result<std::string> pack_fingerprint(const std::vector<FileEntry>& entries, const Pack& pack);

}  // namespace regcache
