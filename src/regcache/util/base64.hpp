// Base64 (RFC 4648, with padding) through OpenSSL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace regcache {

// Returns the base64 text of the bytes.
std::string base64_encode(std::string_view bytes);

// Returns the bytes of base64 text (line breaks and spaces ignored), or nullopt when it is
// not base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace regcache
