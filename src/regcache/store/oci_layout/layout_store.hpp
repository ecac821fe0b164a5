// A Store on a local OCI image layout directory (oci-layout, index.json, blobs/sha256),
// the format skopeo and oras read and write. Blobs are written to a temporary file and
// renamed into place; index.json is rewritten under an exclusive lock, so several
// processes may save into one layout at once.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "regcache/store/store.hpp"

namespace regcache {

using SteadyClock = std::chrono::steady_clock::time_point;

// Whether opening a layout may create it (save, import) or needs it to exist (everything
// that only reads, or deletes: they must not turn a mistyped path into an empty store).
enum class LayoutOpen { create, existing };

// How long writes wait for the layout's lock: a minute (a store the command writes to), or
// a few seconds (a cache in front of another store, which can do without a write).
enum class LockWait { patient, brief };

// Opens the layout at root; with LayoutOpen::existing an absent layout is a not_found
// error, and nothing is written on opening (so a read-only layout can be read).
// Every path inside the layout is opened relative to its directory, with O_NOFOLLOW, and
// only regular files are read as blobs, index or manifests. Blob reads and waits for the
// lock end at `deadline`.
Result<std::unique_ptr<Store>> open_layout_store(const std::string& root,
                                                 LayoutOpen mode = LayoutOpen::create,
                                                 std::optional<SteadyClock> deadline = std::nullopt,
                                                 LockWait wait = LockWait::patient);

}  // namespace regcache
