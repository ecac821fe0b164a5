// `regcache prune`: reads every entry (and the last-use record), asks the pure policy in
// lifecycle/prune_policy.hpp what goes, deletes those manifests by digest (through the GitHub
// Packages API where the registry refuses), and on a local layout collects the blobs no
// entry references any more. --dry-run stops after the plan.
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/exit_codes.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/cli/settings.hpp"
#include "regcache/cli/validators.hpp"
#include "regcache/lifecycle/entry_listing.hpp"
#include "regcache/lifecycle/prune_policy.hpp"
#include "regcache/lifecycle/usage_record.hpp"
#include "regcache/store/oci_layout/layout_gc.hpp"
#include "regcache/store/referrers.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/units.hpp"

namespace regcache {

namespace {

struct PruneArgs {
  std::string older_than, max_size, by = "created", prefix;
  std::string keep;  // empty: no --keep
  std::vector<std::string> group_by;
  bool dry_run = false;
  double timeout = 600;
};

// Parses --keep: a non-negative whole number.
size_t parse_count(const std::string& text) {
  size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw CommandError(kExitUsage, "invalid --keep '" + text + "' (a number of entries, e.g. 3)");
  }
  return n;
}

PrunePolicy prune_policy_of(const PruneArgs& a) {
  PrunePolicy p;
  p.prefix = a.prefix;
  if (!a.older_than.empty()) {
    require_unit("--older-than", a.older_than, "36h, 7d, 2w");  // 5 would be every entry
    p.older_than = unwrap(parse_duration(a.older_than));
  }
  if (!a.max_size.empty()) {
    require_unit("--max-size", a.max_size, "500MiB, 5GiB, 5GB");
    p.max_size = unwrap(parse_size(a.max_size));
  }
  if (!a.keep.empty()) p.keep = parse_count(a.keep);
  p.group_by = a.group_by;
  p.by = a.by == "last-used" ? PruneBy::last_used : PruneBy::created;
  if (!p.older_than && !p.keep && !p.max_size) {
    throw CommandError(kExitUsage, "prune needs a policy: --older-than, --keep or --max-size");
  }
  if (!p.group_by.empty() && !p.keep) throw CommandError(kExitUsage, "--group-by needs --keep");
  return p;
}

std::vector<PruneEntry> policy_entries(const std::vector<ListedEntry>& listed,
                                       const UsageTimes& uses) {
  std::vector<PruneEntry> out;
  for (const auto& e : listed) {
    PruneEntry p;
    p.key = e.info.key;
    p.digest = e.digest;
    // An entry without a readable created time counts as infinitely old; so does one dated
    // in the future (its pusher chose that date, to fill the newest --keep slots).
    p.created = parse_written_time(e.info.created).value_or(TimePoint{});
    if (auto u = uses.find(e.digest); u != uses.end()) p.last_used = parse_written_time(u->second);
    p.blobs[e.info.config.digest] = e.info.config.size;
    for (const auto& l : e.info.layers) p.blobs[l.digest] = l.size;
    out.push_back(std::move(p));
  }
  return out;
}

void run_prune(const PruneArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  PrunePolicy policy = prune_policy_of(a);
  auto grace = settings().gc_grace;
  StoreRef ref = selected_store_ref(g);
  GlobalOptions gt = g;
  gt.timeout_seconds = a.timeout;
  auto store = open_store(gt, StoreUse::read);
  auto listed = unwrap(list_entries(*store, "", ListFrom::manifests, settings().jobs.value_or(8)));
  UsageTimes uses;
  if (policy.by == PruneBy::last_used) uses = unwrap(read_usage(*store));
  auto plan = plan_prune(policy_entries(listed, uses), policy, current_time());
  nlohmann::json deleted = nlohmann::json::array();
  std::set<std::string> gone;  // manifests deleted (one may have several tags)
  for (size_t i : plan.remove) {
    const ListedEntry& e = listed[i];
    if (!a.dry_run && gone.insert(e.digest).second) {
      unwrap(store->delete_manifest(e.digest));
      if (e.has_referrers) {  // and its signatures; what stays is only untidy
        if (auto st = delete_referrers(*store, e.digest); !st.ok())
          log_warning("the signatures of " + e.info.key + " stay: " + st.error().message);
      }
    }
    log_info(fmt::format("{} {} (created {}, {})", a.dry_run ? "Would delete" : "Deleted",
                         e.info.key, e.info.created.substr(0, 19), human_bytes(e.stored)));
    deleted.push_back({{"key", e.info.key},
                       {"tag", e.tag},
                       {"digest", e.digest},
                       {"created", e.info.created},
                       {"bytes", e.stored}});
  }
  const bool layout =
      ref.kind == StoreKind::layout && ::access((ref.path + "/oci-layout").c_str(), F_OK) == 0;
  GcReport gc;
  if (!a.dry_run && layout) gc = unwrap(collect_layout_garbage(ref.path, grace));
  std::string entries = fmt::format("{} ({})", counted(plan.remove.size(), "entry", "entries"),
                                    human_bytes(plan.freed_bytes));
  if (a.dry_run) {
    log_info(fmt::format("Would delete {}, keep {}", entries, plan.kept));
  } else if (!layout) {
    log_info(
        fmt::format("Deleted {}, kept {}; the registry frees their blobs when it collects "
                    "its garbage",
                    entries, plan.kept));
  } else {
    // Only blobs past the grace period are gone; younger ones may belong to a running save.
    std::string waiting = gc.young_blobs == 0
                              ? ""
                              : fmt::format(
                                    "; {} in {} wait until older than the grace period ({}s, "
                                    "REGCACHE_GC_GRACE)",
                                    human_bytes(gc.young_bytes),
                                    counted(gc.young_blobs, "blob", "blobs"), grace.count());
    log_info(fmt::format("Deleted {}, kept {}; removed {} in {}{}", entries, plan.kept,
                         human_bytes(gc.removed_bytes),
                         counted(gc.removed_blobs, "unreferenced blob", "unreferenced blobs"),
                         waiting));
  }
  if (g.json) {
    nlohmann::json j = {{"deleted", deleted},
                        {"kept", plan.kept},
                        {"freed_bytes", plan.freed_bytes},
                        {"dry_run", a.dry_run}};
    if (layout && !a.dry_run) {
      j["collected_bytes"] = gc.removed_bytes;
      j["waiting_bytes"] = gc.young_bytes;
    }
    print_line(json_line(j));
  }
}

}  // namespace

void add_prune_command(CLI::App& app, GlobalOptions& g) {
  auto args = std::make_shared<PruneArgs>();
  auto* sub = app.add_subcommand(
      "prune",
      "Delete old entries by age, count per group or total size. On ghcr.io, where the "
      "registry refuses deletes, entries are deleted as package versions through the GitHub "
      "API (REGCACHE_GITHUB_API_URL; GITHUB_TOKEN needs read:packages and delete:packages). "
      "On a local layout, blobs no entry references are then removed (unless younger than "
      "REGCACHE_GC_GRACE seconds, default 3600).");
  sub->add_option("--older-than", args->older_than,
                  "Delete entries older than DURATION (e.g. 30m, 36h, 7d, 2w)")
      ->check(non_empty());
  sub->add_option("--keep", args->keep, "Keep only the newest N entries of each group")
      ->check(non_empty());
  sub->add_option("--group-by", args->group_by,
                  "A key prefix forming a group for --keep (repeatable; default: one group)")
      ->allow_extra_args(false);
  sub->add_option("--max-size", args->max_size,
                  "Keep the newest entries while their unique blobs total at most SIZE "
                  "(e.g. 500M, 10GiB)")
      ->check(non_empty());
  sub->add_option("--by", args->by, "Age by 'created' (default) or 'last-used' (last restore)")
      ->check(CLI::IsMember({"created", "last-used"}));
  sub->add_option("--prefix", args->prefix, "Only consider keys starting with PREFIX");
  sub->add_flag("--dry-run", args->dry_run, "Only print what would be deleted and freed");
  add_timeout_option(sub, &args->timeout);
  sub->callback([args, &g] { run_prune(*args, g); });
}

}  // namespace regcache
