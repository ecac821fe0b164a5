#include "regcache/core/save.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <future>

#include "regcache/core/cache_paths.hpp"
#include "regcache/core/delta_plan.hpp"
#include "regcache/core/entry_index.hpp"
#include "regcache/core/entry_signing.hpp"
#include "regcache/core/layer_maker.hpp"
#include "regcache/core/save_base.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/format/file_list.hpp"
#include "regcache/format/fingerprint.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/format/trust.hpp"
#include "regcache/store/gated_store.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/stale.hpp"
#include "regcache/util/task_pool.hpp"

namespace regcache {

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A root that is a symlink (a target/ on another disk) is saved as what it points to, under
// the root's own name: the link alone would restore as a dangling or refused root.
Result<std::string> followed_root(const std::string& source) {
  struct stat st {};
  if (::lstat(source.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return source;
  char* real = ::realpath(source.c_str(), nullptr);
  if (!real) return errno_error("cannot follow the symlink", source, errno);
  std::string out(real);
  ::free(real);
  log_verbose("following the symlink " + source + " -> " + out);
  return out;
}

Result<std::vector<FileEntry>> walk_roots(const PathSpec& spec, size_t threads) {
  std::vector<FileEntry> all;
  for (const auto& root : spec.roots) {
    std::string source = RC_TRY(followed_root(root.source));
    auto entries = RC_TRY(walk_tree(source, root.archive, exclude_filter(spec, root), threads));
    for (auto& e : entries) {
      if (e.mode & 06000) {
        log_verbose("dropping setuid/setgid bits of " + source_of(e));
        e.mode &= ~06000u;
      }
    }
    if (all.empty()) {
      all = std::move(entries);
    } else {
      all.insert(all.end(), std::make_move_iterator(entries.begin()),
                 std::make_move_iterator(entries.end()));
    }
  }
  if (spec.roots.size() > 1) {  // each walk is sorted already
    std::sort(all.begin(), all.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  }
  return all;
}

bool holds_a_file(const std::vector<FileEntry>& entries) {
  return std::any_of(entries.begin(), entries.end(), [](const FileEntry& e) {
    return e.type == FileType::regular || e.type == FileType::hardlink;
  });
}

// Returns true (and fills the report from it) when the tag already holds this key.
Result<bool> already_saved(Store& store, const std::string& tag, const SaveOptions& o,
                           SaveReport* rep) {
  auto m = RC_TRY(store.get_manifest(tag));
  if (!m) return false;
  // An entry that verifying restores would skip must not stop this save from writing one
  // they take: with keys, only a validly signed entry of this key is kept; and a signing save
  // replaces what is not an entry of this key at all (an unsigned save would gain nothing).
  std::vector<Ed25519Key> keys = o.filter.verify_keys;
  if (o.sign_key) keys.push_back(*o.sign_key);
  auto info = parse_manifest(m->bytes);
  if (!info.ok() || info->key != o.key) {
    const std::string held =
        !info.ok() ? "something that is not a regcache entry (" + info.error().message + ")"
        : info->key.empty() ? std::string("an image regcache did not save")
                            : std::string("another entry");
    if (o.sign_key) {
      log_info("Replacing what tag " + tag + " holds, " + held +
               ": a verifying restore takes only a signed entry of " + o.key);
      return false;
    }
    return make_error(ErrorKind::exists, "tag " + tag + " in " + store.describe() + " holds " +
                                             held + "; use --force to replace it");
  }
  if (!o.filter.trust.empty() && !ref_trusted(info->ref, o.filter.trust)) {
    log_info("Replacing the entry for " + o.key + ": it was saved from " +
             (info->ref.empty() ? std::string("an unknown ref") : info->ref) +
             ", which no --trust pattern matches");
    return false;
  }
  if (!keys.empty()) {
    auto check = RC_TRY(check_entry_signature(store, m->digest, keys));
    if (!check.valid) {
      log_info("Replacing the entry for " + o.key + ": no valid signature (" + check.reason + ")");
      return false;
    }
    rep->signer = check.key_fingerprint;
  }
  // A store that takes manifests without their blobs (a layout) may hold an entry that has
  // lost one (a restore removes a damaged copy): such an entry is written again.
  if (store.properties().manifest_blobs == ManifestBlobCheck::none) {
    std::vector<Descriptor> blobs = info->layers;
    blobs.push_back(info->config);
    for (const auto& b : blobs) {
      if (RC_TRY(store.has_blob(b))) continue;
      log_info("Replacing the entry for " + o.key + ": its blob " + b.digest + " is missing from " +
               store.describe());
      return false;
    }
  }
  rep->digest = m->digest;
  rep->files = info->files;
  rep->bytes = info->size;
  rep->layers = info->layers.size();
  return true;
}

// Chooses pack sizes: a number of packs per cache, each a power of two between 1 and
// 16 MiB, so that big caches keep the number of blobs (and requests) bounded. 8 to 16
// when the entry will list its files: later changes then go into delta layers, and a pack
// per transfer lets a distant registry send them all at once. 64 to 128 otherwise, so that
// a change confined to a few neighbouring files re-uploads a small share of the cache. The
// base entry's target is kept while it stays within a factor of four, so pack boundaries
// do not move between saves as the cache grows.
PackOptions choose_packs(const std::vector<FileEntry>& entries, uint64_t base_target) {
  uint64_t total = 0;
  for (const auto& e : entries) total += e.size + 1024;
  const bool listed = entries.size() <= kListedPathsAtLeast;
  const uint64_t packs = listed ? 8 : 64;
  uint64_t target = 1ull << 20;
  while (target < (16ull << 20) && target * 2 * packs <= total) target *= 2;
  if (base_target >= target / 4 && base_target <= target * 4 && base_target >= 4096)
    target = base_target;
  return packs_around(target);
}

// Walks, packs and pushes the entry (save_entry after its checks).
Result<SaveReport> save_tree(Store& store, const SaveOptions& o, const PathSpec& spec,
                             SaveReport rep, std::chrono::steady_clock::time_point t0,
                             const SaveGate& gate);

}  // namespace

const char* to_string(SaveResult r) {
  switch (r) {
    case SaveResult::saved:
      return "saved";
    case SaveResult::exists:
      return "exists";
    case SaveResult::empty:
      return "empty";
  }
  return "saved";
}

Result<SaveReport> save_entry(Store& store, const SaveOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  RC_CHECK(validate_key(o.key));
  SaveReport rep;
  rep.key = o.key;
  rep.tag = tag_for_key(o.key);
  if (o.paths.empty() && o.optional_paths.empty() && !o.resolved) {
    return make_error(ErrorKind::usage, "save needs at least one path");
  }
  auto spec = o.resolved
                  ? *o.resolved
                  : RC_TRY(resolve_paths(o.paths, o.excludes, o.anchors, MissingPaths::error));
  if (!o.optional_paths.empty()) {
    auto extra = RC_TRY(resolve_paths(o.optional_paths, {}, o.anchors, MissingPaths::skip));
    for (const auto& p : o.optional_paths) log_verbose("preset path " + p);
    spec.roots.insert(spec.roots.end(), extra.roots.begin(), extra.roots.end());
    spec = normalized(std::move(spec));
  }
  if (spec.roots.empty())
    return make_error(ErrorKind::not_found, "none of the paths to save exists");
  store.warm_up(std::min(o.jobs, kWarmUpConnections));
  store.prepare_writes();
  if (o.overwrite == Overwrite::yes) return save_tree(store, o, spec, rep, t0, SaveGate{});
  // Whether the key is saved already is asked beside the walk and the packing: nothing is
  // written before the answer, the packing stops once it came, and it comes first, as if
  // asked before.
  SaveReport existing = rep;
  bool exists = false;
  std::shared_future<Status> answer = std::async(std::launch::async, [&]() -> Status {
                                        auto found = already_saved(store, rep.tag, o, &existing);
                                        if (!found.ok()) return found.error();
                                        exists = *found;
                                        if (!exists) return {};
                                        return make_error(ErrorKind::exists, "the key is saved");
                                      }).share();
  auto gated = make_gated_store(store, answer);
  auto saved = save_tree(*gated, o, spec, rep, t0, SaveGate{answer});
  Status decided = answer.get();
  if (exists) {
    existing.result = SaveResult::exists;
    existing.seconds = since(t0);
    return existing;
  }
  RC_CHECK(decided);
  return saved;
}

namespace {

Result<SaveReport> save_tree(Store& store, const SaveOptions& o, const PathSpec& spec,
                             SaveReport rep, std::chrono::steady_clock::time_point t0,
                             const SaveGate& gate) {
  LookupIndex index(store);
  index.start_read(IndexWrite::expected);  // beside the first requests: it gets our row
  // The base entry is read while the tree is walked: its requests wait on nothing local.
  auto base_read = std::async(std::launch::async, [&] { return load_base(store, o, index); });
  const auto walked_at = std::chrono::system_clock::now();  // the files' clock, never pinned
  auto walked = walk_roots(spec, o.cpu_jobs);
  auto base_loaded = base_read.get();
  auto entries = RC_TRY(std::move(walked));
  RC_CHECK(gate.so_far());
  if (o.empty == EmptySave::skip && !holds_a_file(entries)) {
    // An empty entry would hit forever and restore nothing: a build that has not made its
    // cache yet must not stop the next one from saving it.
    RC_CHECK(gate.settled());  // a key saved already says so, not this
    std::string roots;
    for (const auto& r : spec.roots) roots += (roots.empty() ? "" : ", ") + r.archive;
    log_warning("nothing to save under " + roots + " (no regular file); no entry written");
    rep.result = SaveResult::empty;
    rep.seconds = since(t0);
    return rep;
  }
  SaveBase base;
  if (base_loaded.ok()) {
    base = std::move(base_loaded).value();
  } else {
    RC_CHECK(gate.settled());  // a key saved already says so, not this
    log_warning("cannot use the base entry: " + base_loaded.error().message);
  }
  rep.base_key = base.key;
  PackOptions pack_opts = o.packs ? *o.packs : choose_packs(entries, base.pack_target);
  auto packs = plan_packs(entries, pack_opts);
  log_verbose(std::to_string(entries.size()) + " entries in " + std::to_string(packs.size()) +
              " packs of about " + std::to_string(pack_opts.target_bytes >> 10) + " KiB");
  if (o.progress) {
    for (const auto& p : packs) o.progress->total += p.bytes;
  }
  remove_stale(store.staging_dir(), ".regcache-upload-");  // left by a killed save
  EntryInfo info;
  for (const auto& r : spec.roots) info.roots.push_back(r.archive);
  // Packs are compared with the base's by their prints: files recorded here unchanged
  // since are not read for that.
  std::vector<EntryPrint> prints(entries.size());
  std::vector<char> known(entries.size(), 0);
  if (!base.by_fingerprint.empty() || !base.delta.files.empty()) {
    recall_prints(o.records, entries, prints, known);  // unread_files is counted at the end
  }
  // With a base that lists its files, every pack is read first to learn which files
  // changed: a few changed files make a delta layer rather than new packs.
  std::vector<std::string> fps;
  DeltaPlan delta;
  if (!base.delta.files.empty() && o.deltas == DeltaLayers::allowed) {
    fps = RC_TRY(fingerprint_packs(entries, packs, o, gate, prints, known));
    delta = plan_delta(entries, prints, info.roots, base.delta);
    log_verbose("delta layer: " + delta.why);
  }
  LayerMaker make{store, o, entries, packs, base, prints, known, fps.empty() ? nullptr : &fps,
                  gate};
  std::vector<LayerInfo> layers;
  bool stacked_unchecked = false;
  if (delta.choice != DeltaChoice::repack) {
    layers = RC_TRY(
        stack_on_base(store, o, base, entries, delta, prints, make.uploaded, &stacked_unchecked));
    if (layers.empty())  // a blob of the base is gone: packed as usual below
      delta.choice = DeltaChoice::repack;
    else
      make.reused = layers.size() - (delta.choice == DeltaChoice::delta ? 1 : 0);
  }
  std::string config;
  bool config_known = false;  // the base's config, just read from this store: no HEAD for it
  bool config_sent = false;   // uploaded beside the packs
  // Describes the layers in the config. The file list is written from the prints of the
  // bytes the layers hold now (a repair packs again), within what a config may hold beside
  // its diff_ids; past that the entry goes without, and the next save on it packs as usual.
  auto describe = [&]() {
    const size_t rest = build_config(layers).size() + 64;
    FileListWriter list(kMaxConfigBytes > rest ? kMaxConfigBytes - rest : 0);
    for (size_t i = 0; i < entries.size(); ++i)
      list.add(entries[i].path, prints[i].hash, prints[i].bytes);
    const std::string file_list = list.finish();
    if (file_list.empty())
      log_verbose("no file list in the entry: " + std::to_string(entries.size()) +
                  " paths take more than a config holds");
    config = build_config(layers, file_list);
    info.config = {kOciConfig, sha256_digest(config), config.size(), {}};
    config_known = info.config.digest == base.config_here;
  };
  if (layers.empty()) {
    stacked_unchecked = false;
    // Once every pack is compressed, the config is known: it goes up beside the last packs.
    RC_CHECK(make.run([&](TaskPool& transfers) -> Status {
      layers = make.layers;
      describe();
      config_sent = true;
      if (config_known) return {};
      return transfers.submit([&] {
        return upload_if_missing(store, info.config, {"", config}, &make.uploaded);
      });
    }));
    layers = make.layers;
  }
  info.key = o.key;
  info.created = now_rfc3339();
  info.pack_target = pack_opts.target_bytes;
  info.ref = o.origin.ref;
  info.commit = o.origin.commit;
  for (const auto& e : entries) {
    info.files += e.type == FileType::regular || e.type == FileType::hardlink;
    info.size += e.size;
  }
  // Describes the layers: the config (uploaded unless it is the base's or went up already)
  // and the manifest.
  auto compose = [&]() -> Result<std::string> {
    if (!config_sent) {
      describe();
      if (!config_known)
        RC_CHECK(upload_if_missing(store, info.config, {"", config}, &make.uploaded));
    }
    config_sent = false;  // a repair that packs again describes its layers anew
    info.layers.clear();
    for (const auto& l : layers) info.layers.push_back(l.descriptor);
    return build_manifest(info);
  };
  // A signed entry's manifest goes in by digest first, then its signature, then its tag:
  // a tag never names a manifest whose signature is not stored yet.
  std::string manifest = RC_TRY(compose());
  RC_CHECK(check_interrupted());  // the last moment a cancelled save can leave no tag
  // The index gets the entry's row beside the request that tags it.
  auto index_entry = [&] {
    IndexRow row = index_row(sha256_digest(manifest), info);
    row.signers.emplace();
    if (o.sign_key) row.signers->push_back(o.sign_key->fingerprint());
    index.learned(rep.tag, std::move(row));
    index.write_in_background();
  };
  auto push = [&] {
    if (!o.sign_key) index_entry();
    return store.put_manifest(o.sign_key ? sha256_digest(manifest) : rep.tag, manifest,
                              kOciManifest);
  };
  auto put = push();
  if (!put.ok() && put.error().kind == ErrorKind::not_found && stacked_unchecked) {
    // A blob of the base went missing since its manifest was read: pack as usual instead.
    log_verbose(put.error().message + "; packing without the base entry's layers");
    make.reused = 0;
    RC_CHECK(make.run());
    if (make.took_unchecked()) RC_CHECK(make.repair());
    layers = make.layers;
    manifest = RC_TRY(compose());
    if (config_known) RC_CHECK(upload_if_missing(store, info.config, {"", config}, &make.uploaded));
    put = push();
  } else if (!put.ok() && put.error().kind == ErrorKind::not_found &&
             (make.took_unchecked() || config_known)) {
    // A blob of the base went missing since its manifest was read: check each one, pack
    // again what is gone, and try once more.
    log_verbose(put.error().message + "; checking the base entry's blobs");
    RC_CHECK(make.repair());
    if (config_known) RC_CHECK(upload_if_missing(store, info.config, {"", config}, &make.uploaded));
    layers = make.layers;
    info.layers.clear();
    for (const auto& l : layers) info.layers.push_back(l.descriptor);
    manifest = build_manifest(info);
    put = push();
  }
  rep.digest = RC_TRY(std::move(put));
  if (o.sign_key) {
    RC_CHECK(sign_entry(store, {kOciManifest, rep.digest, manifest.size(), {}}, *o.sign_key));
    RC_CHECK(check_interrupted());
    index_entry();
    RC_TRY(store.put_manifest(rep.tag, manifest, kOciManifest));
    rep.signer = o.sign_key->fingerprint();
  }
  // A file recalled but read all the same (its pack compressed, or in the delta layer)
  // counts as read; the records are written again when any file was.
  std::vector<char> read(entries.size(), 0);
  for (size_t p = 0; p < packs.size(); ++p) {
    if (make.compressed[p])
      for (size_t i : packs[p].entries) read[i] = 1;
  }
  if (delta.choice == DeltaChoice::delta)
    for (size_t i : delta.changed) read[i] = 1;
  size_t regular = 0;
  std::vector<char> carried(entries.size(), 0);  // rows kept as they were
  rep.unread_files = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].type != FileType::regular) continue;
    ++regular;
    carried[i] = known[i] && !read[i];
    rep.unread_files += carried[i];
  }
  if (rep.unread_files < regular)
    record_prints(o.records, entries, prints, walked_at, RecordedBy::save, &carried);
  rep.result = SaveResult::saved;
  rep.files = info.files;
  rep.bytes = info.size;
  rep.uploaded_bytes = make.uploaded;
  rep.layers = layers.size();
  rep.reused_layers = make.reused;
  rep.seconds = since(t0);
  return rep;
}

}  // namespace

}  // namespace regcache
