// UTF-8 validity: what may go into JSON (annotations, --json output) as text.
#pragma once

#include <string>
#include <string_view>

namespace regcache {

// Returns true when s is well-formed UTF-8 (no overlong forms, surrogates or code points
// past U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Returns s with every byte outside printable ASCII written as \xNN, for error messages.
std::string escaped_bytes(std::string_view s);

}  // namespace regcache
