// An OCI descriptor as manifests write it.
#pragma once

#include <nlohmann/json.hpp>

#include "regcache/oci/descriptor.hpp"

namespace regcache {

// Returns {"mediaType", "digest", "size"} and "annotations" when there are any.
nlohmann::json descriptor_json(const Descriptor& d);

}  // namespace regcache
