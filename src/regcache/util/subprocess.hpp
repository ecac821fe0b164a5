// Runs a child process with its input given, its output and errors captured up to a size,
// and a time limit: hashCommand in key templates and docker credential helpers.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "regcache/util/result.hpp"

namespace regcache {

struct CommandSpec {
  std::vector<std::string> argv;                // argv[0] is looked up on PATH
  std::string input;                            // written to its stdin, which is then closed
  std::optional<std::vector<std::string>> env;  // "NAME=value" entries; nullopt: inherit ours
  std::chrono::milliseconds timeout{60000};     // then it is killed
  size_t max_output = 1 << 20;                  // bytes of stdout kept (more: an error)
};

struct CommandResult {
  int exit_code = 0;  // 128 + N when killed by signal N
  std::string out;    // stdout
  std::string err;    // the last 64 KiB of stderr
};

// Runs the command to its end. Errors: it cannot be started, it ran past the timeout, or
// wrote more than max_output bytes (it is killed in the last two cases).
Result<CommandResult> run_command(const CommandSpec& spec);

// Returns the last `n` non-empty lines of text, joined by " | " (for one-line messages).
std::string last_lines(const std::string& text, size_t n);

}  // namespace regcache
