// An OCI content descriptor: what a manifest says about a blob.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace regcache {

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  uint64_t size = 0;
  std::map<std::string, std::string> annotations;
};

}  // namespace regcache
