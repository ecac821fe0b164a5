// One-line messages for what the command-line parser refuses, naming the word at fault in
// the order it was typed (CLI11's own name neither an unknown option before the command
// nor a repeated one plainly).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace regcache {

// Returns the message for a parse error of `app` on argv (argv[0] is the program).
std::string parse_error_message(const CLI::App& app, const CLI::ParseError& e, int argc,
                                char** argv);

}  // namespace regcache
