// The key helpers: `key` prints the key save/restore would use, `hash-files` prints a
// hashFiles() digest, `presets` lists what each preset caches and keys on.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/exit_codes.hpp"
#include "regcache/cli/keys.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/cli/settings.hpp"
#include "regcache/ecosystems/hash_files.hpp"
#include "regcache/ecosystems/presets.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

struct KeyArgs {
  std::string templ;
  std::vector<std::string> presets, globs;
  bool allow_empty = false;
};

void run_key(const KeyArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  auto keys = resolve_keys(
      {a.templ, {}, a.presets, a.allow_empty ? EmptyMatch::allow : EmptyMatch::error}, g);
  if (g.json) {
    print_line(json_line(nlohmann::json{{"key", keys.key}, {"restore_keys", keys.restore_keys}}));
    return;
  }
  print_line(keys.key);
  for (const auto& r : keys.restore_keys) log_info("restore key: " + r);
}

void run_hash_files(const KeyArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  if (a.globs.empty()) throw CommandError(kExitUsage, "hash-files needs at least one glob");
  Anchors anchors = resolve_anchors(g);
  std::string digest = unwrap(hash_files(a.globs, anchors.workspace,
                                         a.allow_empty ? EmptyMatch::allow : EmptyMatch::error));
  print_line(g.json ? json_line(nlohmann::json{{"digest", digest}, {"globs", a.globs}}) : digest);
}

void run_presets(const GlobalOptions& g) {
  apply_verbosity(g);
  Anchors anchors = resolve_anchors(g);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& name : preset_names()) {
    Preset p =
        unwrap(make_preset(name, PresetEnv{settings().env, anchors.workspace, anchors.home}));
    if (g.json) {
      out.push_back({{"name", p.name},
                     {"summary", p.summary},
                     {"paths", p.paths},
                     {"key", p.key},
                     {"restore_keys", p.restore_keys}});
      continue;
    }
    print_line(fmt::format("{:<8} {}", p.name, p.summary));
    for (const auto& path : p.paths) print_line("           path: " + path);
    print_line("           key:  " + p.key);
    for (const auto& r : p.restore_keys) print_line("           restore key: " + r);
  }
  if (g.json) print_line(json_line(out));
}

}  // namespace

void add_key_commands(CLI::App& app, GlobalOptions& g) {
  auto args = std::make_shared<KeyArgs>();
  auto* key = app.add_subcommand("key", "Print the key (and restore keys) save/restore would use");
  key->add_option("template", args->templ,
                  "Key template, e.g. 'deps-{{ os }}-{{ hashFiles \"**/Cargo.lock\" }}'");
  key->add_option("--preset", args->presets, "Use a preset's key")->allow_extra_args(false);
  key->add_flag("--allow-empty", args->allow_empty, "Let hashFiles match nothing");
  key->callback([args, &g] { run_key(*args, g); });
  auto* hf = app.add_subcommand("hash-files",
                                "Print one digest of the files matching globs (like hashFiles())");
  hf->add_option("globs", args->globs, "Globs relative to the workspace; '!glob' excludes")
      ->required();
  hf->add_flag("--allow-empty", args->allow_empty,
               "Print an empty line instead of failing on no match");
  hf->callback([args, &g] { run_hash_files(*args, g); });
  auto* presets = app.add_subcommand("presets", "List the presets: what each caches and keys on");
  presets->callback([&g] { run_presets(g); });
}

}  // namespace regcache
