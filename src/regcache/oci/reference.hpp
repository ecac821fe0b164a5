// The one parser of registry references: [docker://][HOST[:PORT]/]REPO[:TAG|@DIGEST], for
// --store (a repository) and for images (restore --from-image, import) alike.
#pragma once

#include <string>
#include <string_view>

#include "regcache/util/result.hpp"

namespace regcache {

struct ImageReference {
  std::string host;        // HOST[:PORT]; Docker Hub is "registry-1.docker.io"
  std::string repository;  // e.g. "org/project/cache" ("library/x" for Docker Hub's "x")
  std::string tag;         // "" when none was given
  std::string digest;      // "" when none was given
};

// Whether a reference must name its host (--store), or may leave it to Docker Hub (images).
enum class HostRule { required, docker_hub_default };

// Parses a reference; the error (ErrorKind::usage) names what is wrong with it. Credentials
// before '@' in the host are refused, as are invalid repository names.
Result<ImageReference> parse_image_reference(std::string_view text, HostRule rule);

// Returns true when host (with optional port) is a loopback address or localhost, decided
// from the parsed address, never from a name's prefix.
bool is_loopback_host(std::string_view host);

}  // namespace regcache
