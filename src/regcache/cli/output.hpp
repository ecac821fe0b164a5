// Formatting of results: JSON on stdout, human summaries on stderr.
#pragma once

#include <cstdint>
#include <string>

namespace regcache {

// Returns a size as "12.3 MiB".
std::string human_bytes(uint64_t bytes);

// Prints one line of JSON on stdout.
void print_json_line(const std::string& json);

}  // namespace regcache
