// A Store on a local OCI image layout directory (oci-layout, index.json, blobs/sha256),
// the format skopeo and oras read and write. Blobs are written to a temporary file and
// renamed into place; index.json is rewritten under an exclusive lock, so several
// processes may save into one layout at once.
#pragma once

#include <memory>
#include <string>

#include "regcache/store/store.hpp"

namespace regcache {

// Opens (creating when absent) the layout at root.
Result<std::unique_ptr<Store>> open_layout_store(const std::string& root);

}  // namespace regcache
