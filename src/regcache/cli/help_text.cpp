#include "regcache/cli/help_text.hpp"

#include <map>

namespace regcache {

std::string examples_for(const std::string& command) {
  static const std::map<std::string, std::string> examples = {
      {"",
       "Examples:\n"
       "  regcache restore --preset rust           # before the build\n"
       "  regcache save --preset rust              # after it\n"
       "  regcache --store ghcr.io/acme/app/cache save --key 'deps-{{ hashFiles \"go.sum\" }}' "
       "~/go/pkg/mod\n"
       "  regcache list --prefix deps-\n"
       "Stores: oci:PATH (local OCI layout) or [docker://]HOST[:PORT]/REPO; default "
       "oci:$XDG_CACHE_HOME/regcache, else oci:~/.cache/regcache.\n"
       "Exit status: 0 success (a miss included), 1 error, 2 usage error, 3 miss with "
       "--fail-on-miss."},
      {"save",
       "Examples:\n"
       "  regcache save --key 'build-{{ os }}-{{ hashFiles \"Cargo.lock\" }}' target "
       "~/.cargo/registry\n"
       "  regcache save --preset node --preset rust\n"
       "  regcache save --key k 'out/**' '!*.tmp' --level 6\n"
       "  REGCACHE_SIGNING_KEY=\"$SECRET_PEM\" regcache save --preset rust   # signed"},
      {"restore",
       "Examples:\n"
       "  regcache restore --key build-linux-abc --restore-key build-linux- --restore-key build- "
       "target\n"
       "  regcache restore --key k ~/.cargo/registry   # one path out of a larger entry\n"
       "  regcache restore --preset rust --fail-on-miss\n"
       "  regcache --json restore --key k --lookup-only\n"
       "  regcache keygen --out keys && regcache restore --preset rust --verify-key "
       "keys/regcache.pub   # signed entries only"},
      {"list", "Examples:\n  regcache list --prefix rust-\n  regcache --json list"},
      {"delete", "Examples:\n  regcache delete old-key another-key"},
      {"prune",
       "Examples:\n  regcache prune --older-than 14d --dry-run\n"
       "  regcache prune --keep 3 --group-by rust-linux- --group-by node-linux-\n"
       "  regcache prune --max-size 5GiB --by last-used"},
      {"import",
       "Examples:\n  regcache import --from-image ghcr.io/acme/app/cache:v1 --key deps-v1 "
       "--path /home/runner/.cargo"},
      {"key",
       "Examples:\n  regcache key --preset rust\n"
       "  regcache key 'deps-{{ os }}-{{ arch }}-{{ hashFiles \"**/package-lock.json\" }}'"},
      {"hash-files", "Examples:\n  regcache hash-files '**/Cargo.lock' 'rust-toolchain*'"},
      {"presets", "Examples:\n  regcache presets\n  regcache --json presets"},
      {"completion",
       "Examples:\n  source <(regcache completion bash)\n"
       "  regcache completion zsh > \"${fpath[1]}/_regcache\""},
      {"keygen",
       "Examples:\n  regcache keygen --out keys   # then keep keys/regcache.key in a CI secret"},
      {"man", "Examples:\n  regcache man > regcache.1 && man -l regcache.1"},
  };
  auto it = examples.find(command);
  return it == examples.end() ? std::string() : it->second;
}

void add_examples(CLI::App& app) {
  app.footer(examples_for(""));
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    std::string ex = examples_for(sub->get_name());
    if (!ex.empty()) sub->footer(ex);
  }
}

}  // namespace regcache
