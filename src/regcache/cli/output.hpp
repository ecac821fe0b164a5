// Formatting of results: JSON on stdout, human summaries on stderr.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace regcache {

// Returns a size as "12.3 MiB".
std::string human_bytes(uint64_t bytes);

// Returns "1 file", "2 files": n with the noun in the right number.
std::string counted(uint64_t n, const char* singular, const char* plural);

// Prints one line (a result: JSON, a key, a listing row) on stdout.
void print_line(const std::string& line);

// Prints text regcache generated itself (a completion script, the man page) as it is: it
// holds no string from an entry, a registry or the user, so its lines are not escaped.
void print_text(const std::string& text);

// Returns true once a result line has been printed on stdout.
bool result_printed();

// Sets fields an error object carries, when a command fails before printing its result
// with --json ({"result":"error","error":…,"exit_code":…} plus these, e.g. the key).
void set_error_fields(nlohmann::json fields);

// Returns the error object for a failure with this message and exit code.
std::string error_json(const std::string& message, int exit_code);

// Returns j as one line of JSON; bytes that are not UTF-8 (a path's, a key's) are shown as
// U+FFFD rather than failing the command that prints them.
std::string json_line(const nlohmann::json& j);

}  // namespace regcache
