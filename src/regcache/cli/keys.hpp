// Turns --key/--restore-key templates and --preset names into the concrete key, the
// restore-key chain and the extra paths presets add.
#pragma once

#include <string>
#include <vector>

#include "regcache/cli/context.hpp"
#include "regcache/ecosystems/hash_files.hpp"

namespace regcache {

struct KeyRequest {
  std::string key;                        // template, may be empty when presets give one
  std::vector<std::string> restore_keys;  // templates
  std::vector<std::string> presets;
  EmptyMatch empty = EmptyMatch::error;
};

struct ResolvedKeys {
  std::string key;
  std::vector<std::string> restore_keys;
  std::vector<std::string> preset_paths;     // absolute; may not exist
  std::vector<std::string> preset_excludes;  // filled only with SaveExcludes::compute
};

enum class SaveExcludes { skip, compute };

// Renders templates and applies presets; throws CommandError (exit 2) on bad input.
ResolvedKeys resolve_keys(const KeyRequest& request, const GlobalOptions& g,
                          SaveExcludes excludes = SaveExcludes::skip);

}  // namespace regcache
