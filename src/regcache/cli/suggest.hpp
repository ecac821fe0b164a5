// "Did you mean" for a mistyped option or command: the closest name the parser knows.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace regcache {

// Returns the option or command name closest to `word` ("--restore-keys" ->
// "--restore-key"), preferring those of the command being parsed; "" when none is close.
std::string closest_name(const CLI::App& app, const std::string& word);

// Returns the words of a parse error's message that the parser did not expect.
std::vector<std::string> unexpected_words(const CLI::App& app);

}  // namespace regcache
