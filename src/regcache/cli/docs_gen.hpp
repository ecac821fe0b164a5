// Shell completions and the man page, generated from the command-line definition itself,
// so they never drift from what the parser accepts.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace regcache {

// Returns a bash completion script for the program.
std::string bash_completion(const CLI::App& app);

// Returns a zsh completion script (#compdef) for the program.
std::string zsh_completion(const CLI::App& app);

// Returns the man page (roff, section 1).
std::string man_page(const CLI::App& app, const std::string& version);

}  // namespace regcache
