// Formatting of results: JSON on stdout, human summaries on stderr.
#pragma once

#include <cstdint>
#include <string>

namespace regcache {

// Returns a size as "12.3 MiB".
std::string human_bytes(uint64_t bytes);

// Prints one line (a result: JSON, a key, a listing row) on stdout.
void print_line(const std::string& line);

}  // namespace regcache
