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

struct ListArgs {
  std::string prefix;
};

void run_list(const ListArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  auto store = open_store(g);
  std::string tag_prefix = a.prefix.empty() ? "" : tag_prefix_for(a.prefix);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& tag : unwrap(store->list_tags())) {
    if (tag.rfind(tag_prefix, 0) != 0) continue;
    auto m = unwrap(store->get_manifest(tag));
    if (!m) continue;
    auto info = parse_manifest(m->bytes);
    if (!info.ok() || info->key.empty()) {
      log_verbose("skipping " + tag + ": not a regcache entry");
      continue;
    }
    if (info->key.rfind(a.prefix, 0) != 0) continue;
    uint64_t compressed = 0;
    for (const auto& l : info->layers) compressed += l.size;
    out.push_back({{"key", info->key},
                   {"tag", tag},
                   {"digest", m->digest},
                   {"created", info->created},
                   {"files", info->files},
                   {"bytes", info->size},
                   {"compressed_bytes", compressed},
                   {"layers", info->layers.size()}});
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return x["created"].template get<std::string>() > y["created"].template get<std::string>();
  });
  if (g.json) {
    print_line(out.dump());
    return;
  }
  for (const auto& e : out) {
    std::string line = fmt::format("{}  {}  {:>10}  {:>10}  {:>3} layers",
                                   e["created"].get<std::string>().substr(0, 19),
                                   e["key"].get<std::string>(), human_bytes(e["bytes"]),
                                   human_bytes(e["compressed_bytes"]), e["layers"].get<size_t>());
    print_line(line);
  }
}

}  // namespace

void add_list_command(CLI::App& app, GlobalOptions& g) {
  auto args = std::make_shared<ListArgs>();
  auto* sub = app.add_subcommand("list", "List cache entries, newest first");
  sub->add_option("--prefix", args->prefix, "Only keys starting with this prefix");
  sub->callback([args, &g] { run_list(*args, g); });
}

}  // namespace regcache
