// Human-readable messages on stderr, filtered by verbosity. Nothing here may ever be
// given a credential: callers pass URLs through redact_url() first.
#pragma once

#include <string>
#include <string_view>

namespace regcache {

enum class Verbosity { quiet = 0, normal = 1, verbose = 2 };

// Sets the process-wide verbosity (default: normal).
void set_verbosity(Verbosity v);

// Returns the process-wide verbosity.
Verbosity verbosity();

// Prints a line on stderr at normal verbosity and above.
void log_info(std::string_view line);

// Prints a line on stderr only with -v.
void log_verbose(std::string_view line);

// Prints "regcache: warning: <line>" on stderr unless quiet.
void log_warning(std::string_view line);

// Returns the line as it may be printed: control characters escaped (\n, \r, \xNN), so a
// string from an entry, a registry or a user cannot start a line of its own, and a line
// that would start with a CI runner's command marker ("::", "##[") prefixed.
std::string printable_line(std::string_view line);

// Returns the URL with any user-info (user:password@) and query string removed.
std::string redact_url(std::string_view url);

}  // namespace regcache
