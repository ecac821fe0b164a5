// Parses --store references: "oci:PATH" (a local OCI layout), "docker://HOST[:PORT]/REPO"
// or "HOST[:PORT]/REPO" (a registry repository).
#pragma once

#include <string>
#include <string_view>

#include "regcache/oci/reference.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

enum class StoreKind { layout, registry };

struct StoreRef {
  StoreKind kind = StoreKind::layout;
  std::string path;        // layout directory
  std::string host;        // registry host[:port] ("docker.io" becomes "registry-1.docker.io")
  std::string repository;  // e.g. "org/project/cache"
};

// Parses a reference; the error names what is wrong with it (ErrorKind::usage).
Result<StoreRef> parse_store_ref(std::string_view ref);

}  // namespace regcache
