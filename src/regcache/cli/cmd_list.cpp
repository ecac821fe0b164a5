#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/cli/settings.hpp"
#include "regcache/cli/validators.hpp"
#include "regcache/lifecycle/entry_listing.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

struct ListArgs {
  std::string prefix;
  double timeout = 600;
};

void run_list(const ListArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  GlobalOptions gt = g;
  gt.timeout_seconds = a.timeout;
  auto store = open_store(gt, StoreUse::read);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e :
       unwrap(list_entries(*store, a.prefix, ListFrom::index, settings().jobs.value_or(8)))) {
    nlohmann::json j = {{"key", e.info.key},
                        {"tag", e.tag},
                        {"digest", e.digest},
                        {"created", e.info.created},
                        {"files", e.info.files},
                        {"bytes", e.info.size},
                        {"compressed_bytes", e.stored},
                        {"layers", e.layers}};
    if (!e.info.ref.empty()) j["ref"] = e.info.ref;
    j["signed_by"] = e.signers;
    out.push_back(std::move(j));
  }
  if (g.json) {
    print_line(json_line(out));
    return;
  }
  if (out.empty()) {
    log_info("no entries in " + store->describe() +
             (a.prefix.empty() ? "" : " whose key starts with " + a.prefix));
    return;
  }
  // A table with a header, the key column as wide as the longest key.
  size_t width = 3;
  for (const auto& e : out) width = std::max(width, e["key"].get<std::string>().size());
  // SIGNED: the start of the key fingerprint its signature names ("-": unsigned).
  auto row = [&](const std::string& created, const std::string& key, const std::string& size,
                 const std::string& stored, const std::string& layers, const std::string& signed_by,
                 const std::string& ref) {
    std::string line = fmt::format("{:<19}  {:<{}}  {:>10}  {:>10}  {:>6}  {:<19}", created, key,
                                   width, size, stored, layers, signed_by);
    if (!ref.empty()) line += "  " + ref;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
  };
  auto signed_by = [](const nlohmann::json& signers) {
    if (signers.empty()) return std::string("-");
    std::string s = signers[0].get<std::string>().substr(0, 19);
    if (signers.size() > 1) s += " +" + std::to_string(signers.size() - 1);
    return s;
  };
  print_line(row("CREATED", "KEY", "SIZE", "STORED", "LAYERS", "SIGNED", "REF"));
  for (const auto& e : out) {
    std::string created = e["created"].get<std::string>().substr(0, 19);
    std::replace(created.begin(), created.end(), 'T', ' ');
    print_line(row(created, e["key"].get<std::string>(), human_bytes(e["bytes"]),
                   human_bytes(e["compressed_bytes"]), std::to_string(e["layers"].get<uint64_t>()),
                   signed_by(e["signed_by"]),
                   e.contains("ref") ? e["ref"].get<std::string>() : ""));
  }
}

}  // namespace

void add_list_command(CLI::App& app, GlobalOptions& g) {
  auto args = std::make_shared<ListArgs>();
  auto* sub = app.add_subcommand("list", "List cache entries, newest first");
  sub->add_option("--prefix", args->prefix, "Only keys starting with this prefix");
  add_timeout_option(sub, &args->timeout);
  sub->callback([args, &g] { run_list(*args, g); });
}

}  // namespace regcache
