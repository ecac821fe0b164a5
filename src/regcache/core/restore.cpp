// The restore pipeline: find the entry (core/lookup.hpp), check what its manifest and
// config claim, choose what to write (core/restore_selection.hpp), stage each destination
// (core/staging.hpp), stream every layer through verification, decompression and the safe
// extractor in parallel, and move the staged trees into place only when all of it held.
#include "regcache/core/restore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>

#include "regcache/archive/compression.hpp"
#include "regcache/archive/layer_mask.hpp"
#include "regcache/archive/safe_path.hpp"
#include "regcache/core/lookup.hpp"
#include "regcache/core/restore_records.hpp"
#include "regcache/core/staging.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/store/fetch_verified.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/hand_off_sink.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/parallel.hpp"

namespace regcache {

namespace {

constexpr uint64_t kDefaultLayerLimit = 64ull << 30;
constexpr uint64_t kMaxFiles = 1ull << 32;  // more than any real cache holds
constexpr size_t kMaxLayers = 10000;        // a save makes about 64 (docs/format.md)
constexpr size_t kMaxDeltaLayers = 64;      // a save stacks at most 8 (docs/format.md)
// Delta layers are read twice (their headers first); their compressed bytes kept from the
// first read, up to these sizes per layer and in all, spare the second download.
constexpr uint64_t kKeepDeltaBytes = 64ull << 20;
constexpr uint64_t kKeepAllDeltaBytes = 256ull << 20;
// A layer this big is decompressed and written on a thread of its own while the thread that
// reads it checks its digest (util/hand_off_sink.hpp), when the entry has fewer such layers
// than the machine has cores: with more, its layers keep every core busy already.
constexpr uint64_t kHandOffBytes = 32ull << 20;

// Keeps a copy of the bytes on their way to the next sink.
class CopySink : public Sink {
 public:
  CopySink(std::string* copy, Sink* next) : copy_(copy), next_(next) {}
  Status write(const char* data, size_t size) override {
    copy_->append(data, size);
    return next_->write(data, size);
  }
  Status finish() override { return next_->finish(); }

 private:
  std::string* copy_;
  Sink* next_;
};

// Tells where a layer's decompressed tar must stop: its annotation, else a bound
// derived from the entry, else a hard cap.
uint64_t layer_limit(const Descriptor& d, const EntryInfo& e) {
  if (auto declared = declared_tar_size(d)) return *declared;
  if (e.size > 0 && e.size < kDefaultLayerLimit && e.files < kMaxFiles)
    return e.size * 2 + (e.files + 1) * 4096 + (64ull << 20);
  return kDefaultLayerLimit;
}

// Extracts layers of one entry into the staging locations, collecting what every layer
// adds up to (files, bytes, directory fix-ups, hard links left for a second pass).
struct LayerExtraction {
  Store& store;
  const EntryInfo& entry;
  ExternalSymlinks symlinks;
  uint32_t mode_mask;
  ProgressCounter* progress;
  RestoredPrints* restored;  // gathers the files written, for the file records (or null)
  DirFixups fixups;
  std::atomic<uint64_t> files{0}, bytes{0}, downloaded{0};
  std::mutex mu;
  std::vector<std::pair<size_t, Extractor::SkippedLink>> skipped;  // (layer, link)
  // With delta layers: what they hide, and the downloaded bytes of those read once already.
  LayerMask mask;
  bool stacked = false;
  std::vector<std::string> kept = std::vector<std::string>(entry.layers.size());
  bool hand_off = false;  // big layers are handed off (kHandOffBytes)

  // Streams layer i through digest check, decompression and extraction into roots.
  Status run(size_t i, const std::vector<ExtractRoot>& roots) {
    Extractor extractor(roots, symlinks, &fixups);
    // An entry that declares no content (an annotation missing or 0) holds no sparse file.
    extractor.limit_file_size(entry.size);
    extractor.mask_modes(mode_mask);
    if (stacked)
      extractor.stack(&mask, i,
                      is_delta_layer(entry.layers[i]) ? LayerRole::delta : LayerRole::base);
    std::optional<PrintingHandler> printing;
    if (restored) {
      extractor.keep_written_stats();
      printing.emplace(extractor, mode_mask, *restored);
    }
    TarReader tar(printing ? static_cast<TarEntryHandler*>(&*printing) : &extractor);
    RC_CHECK(read_layer(i, &tar, nullptr));
    {
      std::lock_guard lock(mu);
      for (const auto& link : extractor.skipped_links()) skipped.emplace_back(i, link);
    }
    files += extractor.files();
    bytes += extractor.bytes();
    return {};
  }

  // Reads the headers of every delta layer into the mask, keeping the bytes of the small
  // ones, before any layer is extracted: each layer must know what the layers above hide.
  Status scan_deltas(size_t jobs) {
    std::vector<size_t> deltas;
    for (size_t i = 0; i < entry.layers.size(); ++i) {
      if (is_delta_layer(entry.layers[i])) deltas.push_back(i);
    }
    if (deltas.empty()) return {};
    stacked = true;
    std::vector<char> keep(entry.layers.size(), 0);
    uint64_t budget = kKeepAllDeltaBytes;
    for (size_t i : deltas) {
      const uint64_t size = entry.layers[i].size;
      if (size <= kKeepDeltaBytes && size <= budget) {
        keep[i] = 1;
        budget -= size;
      } else if (progress) {
        progress->total += entry.layers[i].size;  // downloaded twice
      }
    }
    LayerScan::Budget bounds;  // shared: the bounds hold for all the deltas together
    std::vector<LayerScan> scans(deltas.size(), LayerScan(entry.roots, &bounds));
    RC_CHECK(parallel_for(deltas.size(), jobs, [&](size_t k) {
      TarReader tar(&scans[k]);
      size_t i = deltas[k];
      return read_layer(i, &tar, keep[i] ? &kept[i] : nullptr);
    }));
    for (size_t k = 0; k < deltas.size(); ++k) RC_CHECK(mask.add(deltas[k], scans[k].marks()));
    return {};
  }

 private:
  // Feeds layer i's tar into `tar`: decompressed from the bytes kept, else downloaded,
  // verified and decompressed (keeping the downloaded bytes in `copy` when given).
  Status read_layer(size_t i, TarReader* tar, std::string* copy) {
    const Descriptor& d = entry.layers[i];
    auto fail = [&](const Error& err) {
      return make_error(err.kind, "layer " + d.digest + ": " + err.message);
    };
    auto comp = compression_for_media_type(d.media_type);
    if (!comp.ok()) return fail(comp.error());
    auto decomp = make_decompressor(comp.value(), layer_limit(d, entry), tar);
    StopOnError guard(decomp.get());
    if (!kept[i].empty()) {  // verified when they were downloaded
      Status st = guard.write(kept[i].data(), kept[i].size());
      if (st.ok()) st = guard.finish();
      return st.ok() ? st : fail(st.error());
    }
    // The compressed bytes, not the tar: a quarter of the size, and the tar of a delta
    // stack's restore, copied into fresh memory, had cost a third of its time.
    if (copy) copy->reserve(static_cast<size_t>(d.size));
    CopySink keeping(copy, &guard);
    Sink* into = copy ? static_cast<Sink*>(&keeping) : &guard;
    std::optional<HandOffSink> handed;
    if (hand_off && d.size >= kHandOffBytes) into = &handed.emplace(into);
    // A transport error is returned as the store gave it; anything about the bytes names
    // the layer.
    Status st = fetch_verified(store, d, into, progress);
    if (handed) {  // the guard took every byte: it is read below
      Status taken = handed->drain();
      if (st.ok() && !taken.ok()) st = fail(taken.error());
    }
    if (st.ok()) {
      st = guard.finish();
      if (!st.ok()) st = fail(st.error());
    } else if (st.error().kind == ErrorKind::integrity) {  // a digest mismatch explains all
      st = fail(st.error());
    } else if (!guard.error().ok()) {  // the bytes failed before the transport did
      st = fail(guard.error().error());
    }
    if (!st.ok()) {
      if (copy) copy->clear();
      return st;
    }
    downloaded += d.size;
    return {};
  }
};

// Checks what the manifest claims before anything is written: a sane layer count and
// sizes, and a config that says it is an image config.
Status check_manifest_claims(const FoundEntry& f) {
  const EntryInfo& e = f.info;
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::integrity, "entry " + f.tag + ": " + why);
  };
  if (e.layers.size() > kMaxLayers) {
    return bad(std::to_string(e.layers.size()) + " layers (at most " + std::to_string(kMaxLayers) +
               ")");
  }
  if (e.files > kMaxFiles) return bad("its file count annotation is not a sane number");
  if (e.size > kDefaultLayerLimit * kMaxLayers)
    return bad("its size annotation is not a sane number");
  const std::string& mt = e.config.media_type;
  if (mt != kOciConfig && mt != kDockerConfig)
    return bad("its config is not an image config (" + mt + ")");
  if (e.config.size > kMaxConfigBytes) return bad("its config is too large");
  size_t deltas = 0;
  for (const auto& l : e.layers) {
    if (is_delta_layer(l)) {
      ++deltas;
    } else if (deltas > 0) {
      return bad("a pack layer lies above a delta layer");
    }
  }
  if (deltas > kMaxDeltaLayers)
    return bad(std::to_string(deltas) + " delta layers (at most " +
               std::to_string(kMaxDeltaLayers) + ")");
  return {};
}

// Checks the config blob: an image config listing one diff_id per layer. It runs beside
// the layers' downloads (one round trip fewer); a failure still stops the restore before
// anything is placed.
Status check_config(Store& store, const FoundEntry& f) {
  const EntryInfo& e = f.info;
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::integrity, "entry " + f.tag + ": " + why);
  };
  StringSink body(kMaxConfigBytes);
  Status st = fetch_verified(store, e.config, &body);
  if (!st.ok() && st.error().kind == ErrorKind::integrity)
    return bad("its config does not match its digest");
  RC_CHECK(st);
  auto ids = parse_config_diff_ids(body.str());
  if (!ids.ok()) return bad("its config: " + ids.error().message);
  if (ids->size() != e.layers.size()) return bad("its config does not list one diff_id per layer");
  return {};
}

// Refuses an entry naming a root that is unsafe or would land on "/", whether or not this
// restore writes it: no regcache save makes such an entry.
Status check_roots(const EntryInfo& e, const Anchors& anchors) {
  for (const auto& root : e.roots) {
    std::string dest = RC_TRY(resolve_anchor(anchors, root));
    if (dest == "/") return make_error(ErrorKind::hostile, "refusing to restore onto /");
  }
  return {};
}

// The paths the job asked for, in archive form: named ones, then the presets'.
Result<std::vector<WantedPath>> wanted_paths(const RestoreOptions& o) {
  std::vector<WantedPath> out;
  auto add = [&](const std::string& p, PathOrigin origin) -> Status {
    if (p.empty() || p[0] == '!') return {};  // exclusions only matter to a save
    std::string abs = RC_TRY(absolute_path(p, o.anchors.home));
    out.push_back({anchor_path(o.anchors, abs), origin});
    return {};
  };
  for (const auto& p : o.paths) RC_CHECK(add(p, PathOrigin::named));
  for (const auto& p : o.preset_paths) RC_CHECK(add(p, PathOrigin::preset));
  return out;
}

Result<std::vector<StageTarget>> stage_targets(const std::vector<RootPick>& picks,
                                               const Anchors& anchors) {
  std::vector<StageTarget> out;
  for (const auto& pick : picks) {
    std::string dest = RC_TRY(resolve_anchor(anchors, pick.prefix));
    out.push_back({pick.prefix, pick.prefix == pick.scope ? "" : pick.scope, dest});
  }
  return out;
}

std::string comma_joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// Says once what the selection leaves out, and why.
void explain_selection(const Selection& sel, const RestoreOptions& o, const std::string& key) {
  for (const auto& w : sel.unheld) log_warning("entry " + key + " holds nothing under " + w);
  for (const auto& w : sel.optional) log_verbose("entry " + key + " holds nothing under " + w);
  if (!sel.skipped.empty() && o.paths.empty() && o.preset_paths.empty()) {
    log_warning("not restoring " + comma_joined(sel.skipped) +
                ": outside the workspace (name them as paths, or pass --all-roots)");
  } else if (!sel.skipped.empty()) {
    log_info("Not restoring " + comma_joined(sel.skipped) + " of entry " + key +
             ": not among the paths asked for");
  }
  if (o.all_roots == AllRoots::yes && o.paths.empty() && o.preset_paths.empty()) {
    std::vector<std::string> outside;
    for (const auto& p : sel.picks) {
      if (!archive_path_within(p.prefix, "ws")) outside.push_back(p.prefix);
    }
    if (!outside.empty()) log_warning("--all-roots: restoring " + comma_joined(outside) + " too");
  }
}

// A path restored on its own may hold a hard link to a file elsewhere in its root, whose
// content the first pass did not write. Each such file is taken from its layer again and
// written at the first link's place; the other links to it are linked to that one.
Status materialize_links(LayerExtraction& x, const Staging& staging) {
  struct Place {
    size_t slot;
    std::string rel;  // below the slot's staging location ("" for the location itself)
  };
  std::map<size_t, std::map<std::string, std::vector<Place>>> plan;  // layer -> target -> links
  auto roots = staging.extract_roots();
  for (const auto& [layer, link] : x.skipped) {
    for (size_t i = 0; i < roots.size(); ++i) {
      if (!archive_path_within(link.link, roots[i].prefix)) continue;
      std::string rel =
          link.link == roots[i].prefix ? "" : link.link.substr(roots[i].prefix.size() + 1);
      plan[layer][link.target].push_back({i, rel});
    }
  }
  auto location = [&](const Place& p) {
    return p.rel.empty() ? roots[p.slot].staging_name : roots[p.slot].staging_name + "/" + p.rel;
  };
  for (auto& [layer, targets] : plan) {
    std::vector<ExtractRoot> first_links;
    for (auto& [target, links] : targets)
      first_links.push_back({target, roots[links.front().slot].parent_fd, location(links.front()),
                             "", nullptr, "", RootShape::regular_file});
    x.skipped.clear();
    RC_CHECK(x.run(layer, first_links));
    for (auto& [target, links] : targets) {
      const Place& first = links.front();
      struct stat st {};
      if (::fstatat(roots[first.slot].parent_fd, location(first).c_str(), &st,
                    AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode))  // as a full restore's linkat would have failed
        return hostile_entry(roots[first.slot].prefix + "/" + first.rel,
                             "hard link target not in this layer: " + target);
      for (size_t i = 1; i < links.size(); ++i) {
        if (::linkat(roots[first.slot].parent_fd, location(first).c_str(),
                     roots[links[i].slot].parent_fd, location(links[i]).c_str(), 0) != 0)
          return errno_error("cannot create hard link",
                             roots[links[i].slot].prefix + "/" + links[i].rel, errno);
        ++x.files;
      }
      log_verbose(roots[first.slot].prefix + "/" + first.rel + ": its content taken from " +
                  target);
    }
  }
  return {};
}

}  // namespace

const char* to_string(RestoreResult r) {
  switch (r) {
    case RestoreResult::hit:
      return "hit";
    case RestoreResult::partial:
      return "partial";
    case RestoreResult::miss:
      return "miss";
  }
  return "miss";
}

Result<RestoreReport> restore_entry(Store& store, const RestoreOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  const auto started = std::chrono::system_clock::now();  // the files' clock, never pinned
  RC_CHECK(validate_key(o.key));
  for (const auto& p : o.restore_keys) RC_CHECK(validate_key(p));
  RestoreReport rep;
  rep.key = o.key;
  // A connection for every transfer opens while the key is looked up: one opened after the
  // manifest arrives costs its layer two more round trips (TCP and TLS).
  // A local tier checks its copies of the entry it last saw under the key meanwhile.
  if (o.lookup_only == LookupOnly::no) {
    store.warm_up(std::min(o.jobs, kMaxWarmUpConnections));
    store.prepare_reads(tag_for_key(o.key));
  }
  LookupIndex index(store);
  auto found = RC_TRY(find_entry(store, o.key, o.restore_keys, o.filter, &index));
  index.write_in_background();  // what the lookup learned, beside the downloads
  auto done = [&] {
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
  };
  if (!found) {
    rep.result = RestoreResult::miss;
    return done();
  }
  rep.result = found->match == Match::exact ? RestoreResult::hit : RestoreResult::partial;
  rep.matched_key = found->info.key.empty() ? found->tag : found->info.key;
  rep.matched_digest = found->digest;
  rep.signer = found->signer;
  const EntryInfo& e = found->info;
  if (o.lookup_only == LookupOnly::yes) return done();
  if (e.roots.empty()) {
    return make_error(ErrorKind::integrity,
                      "entry " + found->tag + " is not a regcache entry (no roots)");
  }
  RC_CHECK(check_roots(e, o.anchors));
  if (o.on_match) o.on_match(found->digest);
  auto wanted = RC_TRY(wanted_paths(o));
  Selection sel = select_roots(e.roots, wanted, o.all_roots);
  explain_selection(sel, o, rep.matched_key);
  rep.missing_paths = sel.unheld;
  rep.skipped_roots = sel.skipped;
  if (sel.picks.empty()) {
    rep.result = RestoreResult::miss;
    rep.miss_reason = sel.unheld.empty() && sel.optional.empty()
                          ? "entry " + rep.matched_key + " holds nothing inside the workspace"
                          : "entry " + rep.matched_key + " holds none of the paths asked for";
    return done();
  }
  RC_CHECK(check_manifest_claims(*found));
  auto targets = RC_TRY(stage_targets(sel.picks, o.anchors));
  auto staging = RC_TRY(Staging::prepare(std::move(targets)));
  auto roots = staging.extract_roots();
  RestoredPrints restored;
  const bool gather = !o.records.dir.empty() && e.files <= kMaxRestoredFiles;
  if (gather) restored.reserve(e.files);
  LayerExtraction x{store, e, o.symlinks, o.mode_mask, o.progress, gather ? &restored : nullptr};
  if (o.progress) {
    for (const auto& l : e.layers) o.progress->total += l.size;
  }
  const auto big = std::count_if(e.layers.begin(), e.layers.end(),
                                 [](const Descriptor& d) { return d.size >= kHandOffBytes; });
  x.hand_off = big > 0 && static_cast<size_t>(big) < o.cpu_jobs;
  RC_CHECK(x.scan_deltas(o.jobs));
  // Task 0 checks the config, the others extract one layer each.
  RC_CHECK(parallel_for(e.layers.size() + 1, o.jobs, [&](size_t i) {
    return i == 0 ? check_config(store, *found) : x.run(i - 1, roots);
  }));
  x.restored = nullptr;  // a second pass for hard links writes at other paths than it reads
  if (!x.skipped.empty()) RC_CHECK(materialize_links(x, staging));
  RC_CHECK(x.fixups.apply());
  RC_CHECK(staging.check_destinations());
  RC_CHECK(check_interrupted());  // the last moment to leave the destinations as they were
  size_t placed = 0;
  std::vector<std::pair<std::string, std::string>> whole_roots;  // (dest, archive) placed
  for (size_t i = 0; i < staging.size(); ++i) {
    if (!staging.target(i).scope.empty() && !staging.holds(i)) {
      log_warning("entry " + rep.matched_key + " holds nothing under " + staging.target(i).prefix);
      rep.missing_paths.push_back(staging.target(i).prefix);
      staging.drop(i);
      continue;
    }
    RC_CHECK(staging.place(i));
    ++placed;
    if (staging.target(i).scope.empty())
      whole_roots.emplace_back(staging.target(i).dest, staging.target(i).prefix);
  }
  if (!whole_roots.empty()) restored.record(o.records, whole_roots, started);
  rep.downloaded_bytes = x.downloaded;
  rep.files = x.files;
  rep.bytes = x.bytes;
  if (placed == 0) {
    rep.result = RestoreResult::miss;
    rep.miss_reason = "entry " + rep.matched_key + " holds none of the paths asked for";
  }
  return done();
}

}  // namespace regcache
