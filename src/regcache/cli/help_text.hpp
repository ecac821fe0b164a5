// Examples shown at the end of `regcache --help` and of each command's help, and in the
// man page: one source for both.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace regcache {

// Returns the examples for a command ("" for the top level), or an empty string.
std::string examples_for(const std::string& command);

// Sets every command's help footer to its examples.
void add_examples(CLI::App& app);

}  // namespace regcache
