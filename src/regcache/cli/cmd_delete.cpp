#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/core/entry_format.hpp"
#include "regcache/core/key_tag.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

struct DeleteArgs {
  std::vector<std::string> keys;
};

void run_delete(const DeleteArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  for (const auto& key : a.keys) unwrap(validate_key(key));
  auto store = open_store(g);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& key : a.keys) {
    unwrap(validate_key(key));
    std::string tag = tag_for_key(key);
    auto m = unwrap(store->get_manifest(tag));
    auto info = m ? parse_manifest(m->bytes) : Result<EntryInfo>(Error{});
    if (!m || !info.ok() || (info->key != key && !(info->key.empty() && tag == key))) {
      throw CommandError(1, "no cache entry for key " + key + " in " + store->describe());
    }
    unwrap(store->delete_manifest(m->digest));
    log_info("Deleted cache entry " + key);
    out.push_back({{"key", key}, {"digest", m->digest}});
  }
  if (g.json) print_line(out.dump());
}

}  // namespace

void add_delete_command(CLI::App& app, GlobalOptions& g) {
  auto args = std::make_shared<DeleteArgs>();
  auto* sub = app.add_subcommand("delete", "Delete the entries for the given keys");
  sub->add_option("keys", args->keys, "Cache keys to delete")->required();
  sub->callback([args, &g] { run_delete(*args, g); });
}

}  // namespace regcache
