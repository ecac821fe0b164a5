#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/exit_codes.hpp"
#include "regcache/cli/keys.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/cli/progress.hpp"
#include "regcache/cli/settings.hpp"
#include "regcache/cli/signing_keys.hpp"
#include "regcache/cli/summary.hpp"
#include "regcache/cli/validators.hpp"
#include "regcache/core/restore.hpp"
#include "regcache/core/restore_state.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/lifecycle/usage_record.hpp"
#include "regcache/store/oci_layout/layout_owner.hpp"
#include "regcache/store/oci_layout/layout_store.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

// How many of the local tier's entries an offline restore tries before it gives up.
constexpr int kLocalTries = 3;

// Returns whether a restore failed on bytes the store held that do not match their digest
// or do not parse: only reading the entry gives that kind, never the destination (whose
// missing, refused or swapped paths give io, not_found or hostile, and may come after a
// root was placed).
bool copy_failed(ErrorKind kind) {
  return kind == ErrorKind::integrity;
}

struct RestoreArgs {
  std::string key;
  std::vector<std::string> restore_keys, positional, paths, presets, trust, verify_keys;
  bool lookup_only = false, fail_on_miss = false, no_external_symlinks = false, allow_empty = false,
       all_roots = false, same_permissions = false;
  double timeout = 300;
  std::string from_image;  // --from-image: an image of the 2021 workaround (cmd_import.cpp)
};

void report_restore(const RestoreReport& r, const GlobalOptions& g, bool lookup_only) {
  if (g.json) {
    const bool miss = r.result == RestoreResult::miss;
    nlohmann::json j = {
        {"result", to_string(r.result)},
        {"key", r.key},
        {"matched_key",
         r.matched_key.empty() || miss ? nlohmann::json() : nlohmann::json(r.matched_key)},
        {"files", r.files},
        {"bytes", r.bytes},
        {"downloaded_bytes", r.downloaded_bytes},
        {"seconds", r.seconds}};
    if (!r.miss_reason.empty()) j["reason"] = r.miss_reason;
    if (!r.signer.empty() && !miss) j["signed_by"] = r.signer;
    if (!r.source.empty()) {
      j["source"] = r.source;
      j["local_bytes"] = r.local_bytes;
    }
    if (!r.missing_paths.empty()) j["missing_paths"] = r.missing_paths;
    if (!r.skipped_roots.empty()) j["skipped_roots"] = r.skipped_roots;
    print_line(json_line(j));
  }
  if (r.result == RestoreResult::miss) {
    log_info(r.miss_reason.empty()
                 ? fmt::format("Cache miss for key {}", r.key)
                 : fmt::format("Cache miss for key {}: {}", r.key, r.miss_reason));
  } else if (lookup_only) {
    log_info(fmt::format("Cache {} for key {} (matched {}); lookup only, nothing restored",
                         to_string(r.result), r.key, r.matched_key));
  } else {
    log_info(fmt::format("Cache {}: restored {} ({}) from key {} in {:.2f}s, {} downloaded",
                         to_string(r.result), counted(r.files, "file", "files"),
                         human_bytes(r.bytes), r.matched_key, r.seconds,
                         human_bytes(r.downloaded_bytes)));
  }
}

void run_restore(const RestoreArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  if (!a.from_image.empty()) {
    if (!a.verify_keys.empty() || !settings().verify_keys.empty())
      throw CommandError(kExitUsage,
                         "--from-image restores an unsigned image: --verify-key (or "
                         "REGCACHE_VERIFY_KEYS) cannot apply; drop it");
    // A job holding the signing key restores only signed entries (below): an image that
    // nothing signs would be the base of what it signs next.
    if (!settings().signing_key.empty())
      throw CommandError(kExitUsage,
                         "--from-image restores an unsigned image, and REGCACHE_SIGNING_KEY is "
                         "set: a job that signs restores only signed entries; migrate the image "
                         "in a job without the key");
    if (!a.key.empty() || !a.restore_keys.empty() || !a.presets.empty())
      throw CommandError(kExitUsage,
                         "--from-image restores an image, not a key: drop --key, "
                         "--restore-key and --preset");
    std::vector<std::string> paths = a.positional;
    paths.insert(paths.end(), a.paths.begin(), a.paths.end());
    GlobalOptions gt = g;
    gt.timeout_seconds = a.timeout;  // the image's registry answers by it, as a store would
    return run_restore_from_image(
        a.from_image, paths,
        a.no_external_symlinks ? ExternalSymlinks::refuse : ExternalSymlinks::allow, gt);
  }
  auto keys = resolve_keys(
      {a.key, a.restore_keys, a.presets, a.allow_empty ? EmptyMatch::allow : EmptyMatch::error}, g);
  set_error_fields({{"key", keys.key}});
  RestoreOptions o;
  o.key = keys.key;
  o.restore_keys = keys.restore_keys;
  o.paths = a.positional;
  o.paths.insert(o.paths.end(), a.paths.begin(), a.paths.end());
  o.preset_paths = keys.preset_paths;
  o.all_roots = a.all_roots ? AllRoots::yes : AllRoots::no;
  o.anchors = resolve_anchors(g);
  o.lookup_only = a.lookup_only ? LookupOnly::yes : LookupOnly::no;
  o.jobs = settings().jobs.value_or(default_transfers(g, o.jobs));
  o.cpu_jobs = settings().cpu_jobs.value_or(std::max(1u, std::thread::hardware_concurrency()));
  o.symlinks = a.no_external_symlinks ? ExternalSymlinks::refuse : ExternalSymlinks::allow;
  // An entry must not make files writable by others: the umask's group and other write
  // bits are cleared, as tar does for a user who is not root (--same-permissions: exact).
  o.mode_mask = a.same_permissions ? 0 : process_umask() & 022;
  o.records.dir = settings().file_records;
  o.filter.trust = a.trust;
  o.filter.verify_keys = load_verify_keys(a.verify_keys);
  // A job that holds the signing key is a trusted one: it restores only what that key (or a
  // verify key) signed, so that it never signs a tree built on an unsigned entry.
  if (auto signing = load_signing_key("")) {
    log_verbose("REGCACHE_SIGNING_KEY is set: only entries signed by " + signing->fingerprint() +
                " or a --verify-key count");
    o.filter.verify_keys.push_back(*signing);
  }
  GlobalOptions gt = g;
  gt.timeout_seconds = a.timeout;
  const auto t0 = std::chrono::steady_clock::now();  // before the deadline is set
  auto store = open_store(gt, StoreUse::read);
  ProgressCounter progress;
  o.progress = &progress;
  // The last-use record (for prune --by last-used) is read beside the lookup and written
  // beside the downloads, never after them: on a distant registry its requests would
  // otherwise add round trips to every restore. It is joined before the command ends.
  std::optional<UsageRecorder> usage;
  if (!a.lookup_only && settings().track_usage != UsageTracking::off) {
    usage.emplace(*store);
    o.on_match = [&](const std::string& digest) { usage->matched(digest); };
  }
  auto restored = [&] {
    ProgressReporter reporter("restoring", &progress, progress_style_from_env());
    return restore_entry(*store, o);
  }();
  // With a local tier, a registry that cannot be reached leaves the newest matching entry
  // this machine kept (said in a warning; "source":"local").
  std::string source = local_tier_counters() ? "registry" : "";
  // Its tags are taken on their word: only from a tier no one else may write, unless the
  // entries must carry a signature anyway.
  std::optional<std::string> tier_open_to;
  if (!restored.ok() && restored.error().kind == ErrorKind::network && local_tier_counters() &&
      o.filter.verify_keys.empty())
    tier_open_to = layout_open_to_others(local_tier_dir(gt));
  if (tier_open_to) {
    log_warning(restored.error().message + "; not restoring from the local cache instead: " +
                *tier_open_to + " (with --verify-key its signed entries would count)");
  } else if (!restored.ok() && restored.error().kind == ErrorKind::network &&
             local_tier_counters()) {
    const std::string dir = local_tier_dir(gt);
    log_warning(restored.error().message + "; restoring from the local cache " + dir + " instead");
    std::optional<std::chrono::steady_clock::time_point> deadline;  // what --timeout left
    if (a.timeout > 0)
      deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                          std::chrono::duration<double>(a.timeout));
    auto local = open_layout_store(dir, LayoutOpen::existing, deadline, LockWait::brief);
    if (local.ok()) {
      ProgressReporter reporter("restoring", &progress, progress_style_from_env());
      o.filter.blobs = BlobPresence::checked;  // the tier evicts blobs, not entries
      // A damaged copy (bytes that do not match their digest) leaves the next match: the
      // tier is a cache, and a few tries bound the work. No last use to record offline.
      std::string matched;
      o.on_match = [&](const std::string& digest) { matched = digest; };
      for (int tries = 1;; ++tries) {
        matched.clear();
        progress.done = 0;  // the progress line counts the entry being restored
        progress.total = 0;
        restored = restore_entry(**local, o);
        if (restored.ok() || matched.empty() || !copy_failed(restored.error().kind) ||
            tries == kLocalTries)
          break;
        log_warning("local cache: " + restored.error().message + "; trying an older entry");
        o.filter.excluded.push_back(matched);
      }
      source = "local";
    }
  }
  if (!restored.ok() && restored.error().kind == ErrorKind::timeout) {
    // A stalled registry must not fail the job: the build runs cold instead.
    log_warning(restored.error().message + " (after " + fmt::format("{:g}", a.timeout) +
                "s; reporting a miss)");
    RestoreReport miss;
    miss.result = RestoreResult::miss;
    miss.key = keys.key;
    miss.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    miss.miss_reason = fmt::format("the restore timed out after {:g}s (--timeout)", a.timeout);
    restored = miss;
  }
  auto rep = unwrap(std::move(restored));
  rep.source = source;
  if (auto* tier = local_tier_counters(); tier && source == "registry") {
    rep.downloaded_bytes = tier->remote_bytes;
    rep.local_bytes = tier->local_bytes;
    if (rep.result != RestoreResult::miss && !a.lookup_only) {
      if (auto kept = keep_entry_locally(*store, tag_for_key(rep.matched_key), rep.matched_digest);
          !kept.ok()) {
        // A lock held too long is said: the tier stays cold for this key until it is free.
        if (kept.error().kind == ErrorKind::timeout)
          log_warning("local cache: cannot keep the entry (" + kept.error().message + ")");
        else
          log_verbose("local cache: cannot keep the entry: " + kept.error().message);
      }
    }
  }
  if (rep.result != RestoreResult::miss && source != "local") {
    record_restore(settings().state_file, store->describe(), {rep.matched_key, rep.matched_digest});
  }
  trim_local_tier(gt);
  report_restore(rep, g, a.lookup_only);
  append_summary(g, {"restore", rep.key, to_string(rep.result), rep.matched_key, rep.files,
                     rep.bytes, rep.downloaded_bytes, 0, 0, rep.seconds});
  if (rep.result == RestoreResult::miss && a.fail_on_miss) {
    throw CommandError(kExitMiss, rep.miss_reason.empty()
                                      ? "no cache entry for key " + keys.key
                                      : "cache miss for key " + keys.key + ": " + rep.miss_reason);
  }
}

}  // namespace

void add_external_symlink_flags(CLI::App* sub, bool* refuse) {
  sub->add_flag("--no-external-symlinks", *refuse,
                "Refuse symlinks that point outside the restored paths (default: recreate "
                "them exactly as saved; none is ever followed)");
  // Restoring them is the default now; scripts written for the old default keep working.
  sub->add_flag("--allow-external-symlinks")->group("");
}

void add_restore_command(CLI::App& app, GlobalOptions& g) {
  auto args = std::make_shared<RestoreArgs>();
  auto* sub = app.add_subcommand("restore",
                                 "Restore the entry for a key (or the newest restore-key match)");
  sub->add_option("--key", args->key, "Exact cache key (or key template) to look for first");
  sub->add_option("--preset", args->presets,
                  "Use an ecosystem's key and restore keys (regcache presets)")
      ->allow_extra_args(false);
  sub->add_flag("--allow-empty", args->allow_empty, "Let hashFiles match nothing");
  sub->add_option("--restore-key", args->restore_keys,
                  "Key prefix to fall back on, in order (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("paths", args->positional,
                  "Restore only these paths of the entry (roots, or paths inside them)")
      ->check(non_empty());
  sub->add_option("--path", args->paths, "Restore only this path of the entry (repeatable)")
      ->allow_extra_args(false)
      ->check(non_empty());
  sub->add_flag("--all-roots", args->all_roots,
                "Without paths, restore every root of the entry, also those outside the "
                "workspace (home/…, abs/…); by default only the workspace's");
  sub->add_flag("--same-permissions", args->same_permissions,
                "Restore modes exactly as saved (default: clear the group and other write bits "
                "the umask clears)");
  sub->add_flag("--lookup-only", args->lookup_only, "Only report whether an entry matches");
  sub->add_flag("--fail-on-miss", args->fail_on_miss, "Exit with status 3 when nothing matches");
  sub->add_option("--timeout", args->timeout,
                  "Give up after this long (seconds, or 5m) and report a miss (default 300)")
      ->transform(duration_in_seconds(ZeroMeans::invalid));
  sub->add_option("--trust", args->trust,
                  "Only restore entries saved from a git ref matching this glob (repeatable), "
                  "e.g. refs/heads/main, 'refs/tags/*'")
      ->allow_extra_args(false);
  sub->add_option("--verify-key", args->verify_keys,
                  "Only restore entries with a valid signature by this Ed25519 public key (PEM; "
                  "repeatable; or REGCACHE_VERIFY_KEYS holding one or more)")
      ->allow_extra_args(false);
  add_external_symlink_flags(sub, &args->no_external_symlinks);
  sub->add_option("--from-image", args->from_image,
                  "Restore the given --path(s) from an image made by the 2021 workaround "
                  "(cache.tgz in a one-layer image; see regcache import)");
  sub->callback([args, &g] { run_restore(*args, g); });
}

}  // namespace regcache
