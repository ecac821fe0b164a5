// Putting the OCI empty blob (oci/empty_blob.hpp) into a store that may lack it.
#pragma once

#include "regcache/oci/empty_blob.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

// Makes sure the store holds the empty blob: a HEAD, and a PUT only when it is missing.
inline Status put_empty_blob(Store& store) {
  const Descriptor e = oci_empty_descriptor();
  if (RC_TRY(store.has_blob(e))) return {};
  return store.put_blob(e, {"", kOciEmptyJson});
}

}  // namespace regcache
