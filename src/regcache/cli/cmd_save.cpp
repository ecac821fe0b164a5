#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "regcache/cli/commands.hpp"
#include "regcache/cli/context.hpp"
#include "regcache/cli/exit_codes.hpp"
#include "regcache/cli/keys.hpp"
#include "regcache/cli/output.hpp"
#include "regcache/cli/progress.hpp"
#include "regcache/cli/settings.hpp"
#include "regcache/cli/signing_keys.hpp"
#include "regcache/cli/summary.hpp"
#include "regcache/cli/validators.hpp"
#include "regcache/core/cache_paths.hpp"
#include "regcache/core/restore_state.hpp"
#include "regcache/core/save.hpp"
#include "regcache/ecosystems/git_origin.hpp"
#include "regcache/format/anchor.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/store/store_ref.hpp"
#include "regcache/util/glob.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

struct SaveArgs {
  std::string key, base, base_store, sign_key;
  std::vector<std::string> positional, paths, excludes, presets, trust, restore_keys, verify_keys;
  bool force = false, allow_empty = false;
  std::optional<int> level;
  double timeout = 3600;
  std::string compression = "zstd";
};

void report_save(const SaveReport& r, const GlobalOptions& g) {
  if (g.json) {
    nlohmann::json j = {{"result", to_string(r.result)},
                        {"key", r.key},
                        {"digest", r.digest},
                        {"files", r.files},
                        {"bytes", r.bytes},
                        {"uploaded_bytes", r.uploaded_bytes},
                        {"layers", r.layers},
                        {"reused_layers", r.reused_layers},
                        {"unread_files", r.unread_files},
                        {"seconds", r.seconds}};
    if (!r.signer.empty()) j["signed_by"] = r.signer;
    print_line(json_line(j));
  }
  if (r.result == SaveResult::empty) return;  // the warning said why
  if (r.result == SaveResult::exists) {
    log_info(fmt::format(
        "Cache entry for key {} already exists; nothing saved (use --force to replace)", r.key));
    return;
  }
  log_info(fmt::format("Saved {} ({}) under key {} in {:.2f}s: {} ({} reused), {} uploaded",
                       counted(r.files, "file", "files"), human_bytes(r.bytes), r.key, r.seconds,
                       counted(r.layers, "layer", "layers"), r.reused_layers,
                       human_bytes(r.uploaded_bytes)));
  if (!r.base_key.empty()) log_verbose("based on entry " + r.base_key);
  if (r.unread_files > 0)
    log_verbose(fmt::format("{} not read: unchanged since recorded here",
                            counted(r.unread_files, "file", "files")));
  if (!r.signer.empty()) log_info("Signed with key " + r.signer);
}

// Returns the directories of the layouts this command writes to (absolute).
std::vector<std::string> own_layouts(const GlobalOptions& g) {
  std::vector<std::string> out;
  StoreRef ref = selected_store_ref(g);
  if (ref.kind == StoreKind::layout) {
    if (auto dir = absolute_path(ref.path, settings().home); dir.ok()) out.push_back(*dir);
  }
  if (std::string tier = local_tier_dir(g); !tier.empty()) out.push_back(tier);
  return out;
}

void run_save(const SaveArgs& a, const GlobalOptions& g) {
  apply_verbosity(g);
  auto keys = resolve_keys(
      {a.key, a.restore_keys, a.presets, a.allow_empty ? EmptyMatch::allow : EmptyMatch::error}, g,
      SaveExcludes::compute);
  set_error_fields({{"key", keys.key}});
  SaveOptions o;
  o.key = keys.key;
  o.paths = a.positional;
  o.paths.insert(o.paths.end(), a.paths.begin(), a.paths.end());
  o.optional_paths = keys.preset_paths;
  if (o.paths.empty() && o.optional_paths.empty())
    throw CommandError(kExitUsage, "save needs at least one path (or a --preset)");
  o.excludes = a.excludes;
  o.excludes.insert(o.excludes.end(), keys.preset_excludes.begin(), keys.preset_excludes.end());
  o.anchors = resolve_anchors(g);
  o.overwrite = a.force ? Overwrite::yes : Overwrite::no;
  o.empty = a.allow_empty ? EmptySave::keep : EmptySave::skip;
  o.compression = a.compression == "gzip" ? Compression::gzip : Compression::zstd;
  int max_level = o.compression == Compression::gzip ? 9 : 19;
  o.level = a.level.value_or(o.compression == Compression::gzip ? 6 : 3);
  if (o.level < 1 || o.level > max_level) {
    throw CommandError(
        2, fmt::format("--level must be between 1 and {} for {}", max_level, a.compression));
  }
  apply_save_settings(o, g);
  o.base_key = a.base;
  o.origin = git_origin_from_env(settings().env);
  o.filter.trust = a.trust;
  o.filter.verify_keys = load_verify_keys(a.verify_keys);
  auto sign_key = load_signing_key(a.sign_key);
  if (sign_key) o.sign_key = &*sign_key;
  // A missing or unreadable path fails here, before a new layout store is made for nothing.
  o.resolved = unwrap(resolve_paths(o.paths, o.excludes, o.anchors, MissingPaths::error));
  // The store's own layout and the local tier are never part of an entry: a saved directory
  // holding one would copy the store into itself, growing with every save.
  for (const std::string& own : own_layouts(g))
    if (!has_glob_chars(own)) o.resolved->excludes.push_back(own);
  GlobalOptions gt = g;
  gt.timeout_seconds = a.timeout;
  auto store = open_store(gt, StoreUse::write);
  std::unique_ptr<Store> base_store;
  if (!a.base_store.empty()) {
    base_store = open_store(other_store(gt, a.base_store), StoreUse::read);
    o.base_store = base_store.get();
  }
  if (o.base_key.empty()) {
    const Store& from = base_store ? *base_store : *store;
    if (auto last = last_restore(settings().state_file, from.describe()))
      o.base_digest = last->digest;
    o.base_prefixes = keys.restore_keys;  // when no restore in this job recorded one
  }
  ProgressCounter progress;
  o.progress = &progress;
  SaveReport rep;
  {
    ProgressReporter reporter("saving", &progress, progress_style_from_env());
    rep = unwrap(save_entry(*store, o));
  }
  trim_local_tier(gt);
  report_save(rep, g);
  append_summary(g, {"save", rep.key, to_string(rep.result), "", rep.files, rep.bytes,
                     rep.uploaded_bytes, rep.layers, rep.reused_layers, rep.seconds});
}

}  // namespace

void apply_save_settings(SaveOptions& o, const GlobalOptions& g) {
  // Compression on every core; transfers wait on the network or the disk.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  o.cpu_jobs = settings().cpu_jobs.value_or(cores);
  o.jobs = settings().jobs.value_or(default_transfers(g, std::max(4u, 2 * cores)));
  // REGCACHE_PACK_SIZE sets the target pack size (from a quarter of it to three times).
  if (uint64_t t = settings().pack_size.value_or(0)) o.packs = packs_around(t);
  o.deltas = settings().deltas;
  o.records.dir = settings().file_records;
}

void add_save_command(CLI::App& app, GlobalOptions& g) {
  auto args = std::make_shared<SaveArgs>();
  auto* sub = app.add_subcommand("save", "Save paths into the store under a key");
  sub->add_option("--key", args->key,
                  "Cache key or key template (at most 512 characters, no comma)");
  sub->add_option("--preset", args->presets, "Cache what an ecosystem needs (regcache presets)")
      ->allow_extra_args(false);
  sub->add_flag("--allow-empty", args->allow_empty,
                "Let hashFiles match nothing, and save an entry even when the paths hold no "
                "regular file (by default such a save writes nothing)");
  sub->add_option("paths", args->positional, "Paths to save ('~', globs and !exclusions work)")
      ->check(non_empty());
  sub->add_option("--path", args->paths, "A path to save (repeatable)")
      ->allow_extra_args(false)
      ->check(non_empty());
  sub->add_option("--exclude", args->excludes, "Leave out paths matching a glob (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("--base", args->base,
                  "Reuse unchanged layers of this entry (default: the one restored in this job)");
  sub->add_option("--restore-key", args->restore_keys,
                  "Without --base or an earlier restore: base on the newest entry whose key "
                  "starts with this (repeatable, in order; presets supply their own)")
      ->allow_extra_args(false);
  sub->add_option("--base-store", args->base_store,
                  "Where the base entry lives, if not in --store (a repository of the same "
                  "registry lends its blobs by cross-repository mount)");
  sub->add_flag("--force", args->force, "Replace an existing entry with the same key");
  add_timeout_option(sub, &args->timeout);
  sub->add_option("--trust", args->trust,
                  "Replace an existing entry for the key saved from a git ref matching none of "
                  "these globs, and reuse no layer of a base saved from one (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("--sign-key", args->sign_key,
                  "Sign the entry with this Ed25519 private key (PEM; or REGCACHE_SIGNING_KEY "
                  "holding it; regcache keygen makes one)");
  sub->add_option("--verify-key", args->verify_keys,
                  "Replace an existing entry for the key, and reuse no layer of a base, without "
                  "a valid signature by this public key (repeatable; or REGCACHE_VERIFY_KEYS)")
      ->allow_extra_args(false);
  sub->add_option("--level", args->level,
                  "Compression level (zstd 1-19, default 3; gzip 1-9, default 6)");
  sub->add_option("--compression", args->compression, "Layer compression: zstd (default) or gzip")
      ->check(CLI::IsMember({"zstd", "gzip"}));
  sub->callback([args, &g] { run_save(*args, g); });
}

}  // namespace regcache
