// Checks of option values with messages a person can act on (CLI11's own range checks
// print the whole range of a double).
#pragma once

#include <CLI/CLI.hpp>

namespace regcache {

enum class ZeroMeans { invalid, no_limit };

// Refuses "" (an option given an empty value: a variable that was not set, most often).
CLI::Validator non_empty();

// Accepts seconds ("90", "2.5") or a duration ("5m", "1h30m") and rewrites it as seconds;
// zero only with ZeroMeans::no_limit.
CLI::Validator duration_in_seconds(ZeroMeans zero);

// Adds --timeout DURATION (0: no limit) to a command whose whole run, retries included,
// must end by then; *seconds holds the default on entry.
void add_timeout_option(CLI::App* command, double* seconds);

}  // namespace regcache
