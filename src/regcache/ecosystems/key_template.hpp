// Key templates: plain text with {{ function "arg" ... }} blocks, rendered into a key.
//   {{ os }}  {{ arch }}  {{ env "NAME" }}  {{ hashFiles "GLOB" ... }}  {{ hashCommand "CMD" }}
//   {{ now }} (UTC time to the second, for keys that must change on every run)
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "regcache/ecosystems/hash_files.hpp"
#include "regcache/util/env.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

struct TemplateContext {
  std::string workspace;                 // hashFiles globs are relative to it
  EnvFn env;                             // {{ env }} reads it
  EmptyMatch empty = EmptyMatch::error;  // hashFiles with no match
  // Runs a shell command and returns its standard output ({{ hashCommand }}).
  std::function<Result<std::string>(const std::string&)> run;
};

// Returns the operating system name used in keys ("linux", "macos", "windows").
std::string key_os();

// Returns the CPU architecture name used in keys ("amd64", "arm64", ...).
std::string key_arch();

// Runs `sh -c command` and returns its standard output; non-zero exit is an error.
Result<std::string> run_shell_command(const std::string& command);

// Renders a template; errors name the bad block (unknown function, missing quote, ...).
Result<std::string> render_key_template(std::string_view tmpl, const TemplateContext& ctx);

}  // namespace regcache
