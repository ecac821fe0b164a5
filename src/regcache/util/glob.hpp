// Shell-style glob matching on '/'-separated paths: '*' and '?' stay within one path
// component, '**' as a whole component matches any number of components, '[...]' classes.
#pragma once

#include <string_view>

namespace regcache {

// Returns true when path matches pattern.
bool glob_match(std::string_view pattern, std::string_view path);

// Returns true when s contains glob metacharacters (*, ?, [).
bool has_glob_chars(std::string_view s);

}  // namespace regcache
