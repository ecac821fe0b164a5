// The OCI empty blob ("{}", application/vnd.oci.empty.v1+json): the config of every
// artifact regcache writes besides entries (signatures, the usage record, the lookup index).
#pragma once

#include "regcache/oci/descriptor.hpp"
#include "regcache/oci/media_types.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

inline constexpr const char* kOciEmptyJson = "{}";

// Returns the empty blob's descriptor.
inline Descriptor oci_empty_descriptor() {
  return {kOciEmpty, sha256_digest(kOciEmptyJson), 2, {}};
}

}  // namespace regcache
