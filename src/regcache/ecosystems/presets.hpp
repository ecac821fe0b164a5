// Presets: what one ecosystem's cache holds (paths, honouring the tool's own environment
// variables), the key template that changes exactly when it must, and the restore-key
// chain from most to least specific, so `--preset rust` needs no --key.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "regcache/util/env.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

struct PresetEnv {
  EnvFn env;
  std::string workspace;  // absolute
  std::string home;       // absolute
};

struct Preset {
  std::string name;
  std::string summary;                    // one line: what it caches and keys on
  std::vector<std::string> paths;         // absolute
  std::string key;                        // a key template
  std::vector<std::string> restore_keys;  // templates, most specific first
  // Exclusion globs applied on save (what the preset keeps out of the cache); computed
  // only when saving, since it may run the tool (cargo metadata).
  std::function<std::vector<std::string>()> save_excludes;
};

// Returns the names of every preset.
std::vector<std::string> preset_names();

// Returns a preset resolved for this environment; an error names unknown presets.
Result<Preset> make_preset(const std::string& name, const PresetEnv& env);

}  // namespace regcache
