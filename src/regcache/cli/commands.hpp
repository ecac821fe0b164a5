// Registration of the subcommands; each lives in its own cmd_*.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include "regcache/archive/extractor.hpp"
#include "regcache/cli/context.hpp"
#include "regcache/core/save.hpp"

namespace regcache {

// Adds `save` to app.
void add_save_command(CLI::App& app, GlobalOptions& g);
// Adds `restore` to app.
void add_restore_command(CLI::App& app, GlobalOptions& g);
// Adds `list` to app.
void add_list_command(CLI::App& app, GlobalOptions& g);
// Adds `delete` to app.
void add_delete_command(CLI::App& app, GlobalOptions& g);
// Adds `prune` to app.
void add_prune_command(CLI::App& app, GlobalOptions& g);
// Adds `import` to app.
void add_import_command(CLI::App& app, GlobalOptions& g);
// Restores the paths of an image made by the 2021 workaround (restore --from-image).
void run_restore_from_image(const std::string& image, const std::vector<std::string>& paths,
                            ExternalSymlinks symlinks, const GlobalOptions& g);
// Adds --no-external-symlinks (sets *refuse) and the accepted no-op --allow-external-symlinks.
void add_external_symlink_flags(CLI::App* sub, bool* refuse);
// Sets what a save takes from the settings: job counts and pack size (save and import).
void apply_save_settings(SaveOptions& o, const GlobalOptions& g);
// Adds `keygen` to app.
void add_keygen_command(CLI::App& app, GlobalOptions& g);
// Adds `key`, `hash-files` and `presets` to app.
void add_key_commands(CLI::App& app, GlobalOptions& g);

// Adds `completion` and `man` to app (call after every other command is added).
void add_docs_commands(CLI::App& app);

}  // namespace regcache
