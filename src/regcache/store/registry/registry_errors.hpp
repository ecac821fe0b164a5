// Registry error bodies ({"errors":[{"code","message","detail"}]}), parsed once into typed
// codes: a code is compared exactly, never found by substring (BLOB_UNKNOWN is not
// MANIFEST_BLOB_UNKNOWN).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace regcache {

// The error codes of the OCI distribution specification (plus distribution's TAG_INVALID).
enum class RegistryCode {
  other,
  blob_unknown,
  blob_upload_invalid,
  blob_upload_unknown,
  digest_invalid,
  manifest_blob_unknown,
  manifest_invalid,
  manifest_unknown,
  name_invalid,
  name_unknown,
  size_invalid,
  unauthorized,
  denied,
  unsupported,
  too_many_requests,
  tag_invalid,
};

struct RegistryError {
  RegistryCode code = RegistryCode::other;
  std::string code_text;  // as sent, for messages
  std::string message;
  std::string detail;  // the detail member rendered as JSON text, when there is one
};

// Returns the errors a body lists (none when it is not such a body); never throws.
std::vector<RegistryError> parse_registry_errors(std::string_view body);

// Returns true when one of the errors has this code.
bool has_code(const std::vector<RegistryError>& errors, RegistryCode code);

}  // namespace regcache
