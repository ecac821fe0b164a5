// Forgetting the entries of a layout whose blobs are gone: a local tier evicts blobs, not
// entries, and an index.json that kept every tag it ever held would grow with each key.
#pragma once

#include <cstddef>
#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

// Removes from the index.json of the layout at root, under its lock, every descriptor whose
// manifest, or a blob that manifest names, is not in blobs/sha256; returns how many went.
// It waits a few seconds for the lock (kTierLockPatience) and then gives up (a timeout).
Result<size_t> forget_missing_manifests(const std::string& root);

}  // namespace regcache
