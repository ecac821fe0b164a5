#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/cli/validators.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/store/referrers.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

struct DeleteArgs {
  std::vector<std::string> keys;
  double timeout = 600;
};

// Deletes one key's entry: "deleted", or "missing" (a warning: delete is idempotent).
Result<nlohmann::json> delete_one(Store& store, const std::string& key) {
  std::string tag = tag_for_key(key);
  auto m = RC_TRY(store.get_manifest(tag));
  auto info = m ? parse_manifest(m->bytes) : Result<EntryInfo>(Error{});
  if (m && (!info.ok() || info->key.empty())) {
    // An image someone else pushed under this tag (no key of ours on it) is theirs: list
    // does not show it, and delete does not remove it (nor the other tags of its digest).
    const std::string why =
        info.ok() ? "no " + std::string(kAnnoKey) + " annotation" : info.error().message;
    return make_error(ErrorKind::integrity, "tag " + tag + " in " + store.describe() +
                                                " holds something that is not a regcache entry (" +
                                                why + "); nothing deleted");
  }
  if (!m || info->key != key) {
    log_warning("no cache entry for key " + key + " in " + store.describe() +
                "; nothing to delete");
    return nlohmann::json{{"key", key}, {"result", "missing"}};
  }
  RC_CHECK(store.delete_manifest(m->digest));
  // Its signatures go with it; the entry is gone either way.
  if (auto st = delete_referrers(store, m->digest); !st.ok())
    log_warning("deleted " + key + ", but not its signatures: " + st.error().message);
  log_info("Deleted cache entry " + key);
  return nlohmann::json{{"key", key}, {"result", "deleted"}, {"digest", m->digest}};
}

void run_delete(const DeleteArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  for (const auto& key : a.keys) unwrap(validate_key(key));
  GlobalOptions gt = g;
  gt.timeout_seconds = a.timeout;
  auto store = open_store(gt, StoreUse::read);
  nlohmann::json keys = nlohmann::json::array();
  size_t deleted = 0, missing = 0;
  auto print = [&](const char* result) {
    if (!g.json) return;
    print_line(json_line(nlohmann::json{
        {"result", result}, {"deleted", deleted}, {"missing", missing}, {"keys", keys}}));
  };
  for (const auto& key : a.keys) {
    auto one = delete_one(*store, key);
    if (!one.ok()) {
      // A failure that is not about this key (credentials, the network, a registry that
      // refuses deletes) would fail the others too: stop, with the record of what was done.
      keys.push_back({{"key", key}, {"result", "error"}, {"error", one.error().message}});
      print("error");
      unwrap(Status(one.error()));
    }
    (one->at("result") == "deleted" ? deleted : missing)++;
    keys.push_back(std::move(one).value());
  }
  print("ok");
}

}  // namespace

void add_delete_command(CLI::App& app, GlobalOptions& g) {
  auto args = std::make_shared<DeleteArgs>();
  auto* sub = app.add_subcommand("delete", "Delete the entries for the given keys");
  sub->add_option("keys", args->keys, "Cache keys to delete")->required();
  add_timeout_option(sub, &args->timeout);
  sub->callback([args, &g] { run_delete(*args, g); });
}

}  // namespace regcache
