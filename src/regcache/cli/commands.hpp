// Registration of the subcommands; each lives in its own cmd_*.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include "regcache/cli/context.hpp"

namespace regcache {

// Adds `save` to app.
void add_save_command(CLI::App& app, GlobalOptions& g);
// Adds `restore` to app.
void add_restore_command(CLI::App& app, GlobalOptions& g);
// Adds `list` to app.
void add_list_command(CLI::App& app, GlobalOptions& g);
// Adds `delete` to app.
void add_delete_command(CLI::App& app, GlobalOptions& g);
// Adds `key`, `hash-files` and `presets` to app.
void add_key_commands(CLI::App& app, GlobalOptions& g);

}  // namespace regcache
