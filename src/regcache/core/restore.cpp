#include "regcache/core/restore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>

#include "regcache/archive/compression.hpp"
#include "regcache/core/cache_paths.hpp"
#include "regcache/core/git_origin.hpp"
#include "regcache/core/key_tag.hpp"
#include "regcache/core/place.hpp"
#include "regcache/core/restore_selection.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/parallel.hpp"
#include "regcache/util/stale.hpp"
#include "regcache/util/symlink_policy.hpp"

namespace regcache {

namespace {

constexpr uint64_t kDefaultLayerLimit = 64ull << 30;
constexpr uint64_t kMaxFiles = 1ull << 32;     // more than any real cache holds
constexpr size_t kMaxLayers = 10000;           // a save makes about 64 (docs/format.md)
constexpr uint64_t kMaxConfigBytes = 4 << 20;  // a config lists one diff_id per layer

Result<std::optional<FoundEntry>> entry_at(Store& store, const std::string& tag) {
  auto m = RC_TRY(store.get_manifest(tag));
  if (!m) return std::optional<FoundEntry>();
  auto info = parse_manifest(m->bytes);
  if (!info.ok()) {
    return make_error(info.error().kind,
                      "entry " + tag + " in " + store.describe() + ": " + info.error().message);
  }
  return std::optional<FoundEntry>(FoundEntry{tag, m->digest, std::move(info).value()});
}

// Tells where a layer's decompressed tar must stop: its annotation, else a bound
// derived from the entry, else a hard cap.
uint64_t layer_limit(const Descriptor& d, const EntryInfo& e) {
  auto it = d.annotations.find(kAnnoPackSize);
  uint64_t declared = 0;
  if (it != d.annotations.end()) {
    const std::string& v = it->second;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), declared);
    if (ec == std::errc() && end == v.data() + v.size()) return declared;
  }
  if (e.size > 0 && e.size < kDefaultLayerLimit && e.files < kMaxFiles)
    return e.size * 2 + (e.files + 1) * 4096 + (64ull << 20);
  return kDefaultLayerLimit;
}

struct Staged {
  std::string root;   // archive path extracted (a root, or a path inside one)
  std::string scope;  // the root holding it, when it is only part of one
  std::string dest;   // absolute destination
  int parent_fd = -1;
  std::string staging_name;
  std::string created_from;  // the first parent directory this restore created, if any
};

// A destination root that is a symlink to a directory (a target/ the runner put on another
// disk) is restored into the directory it points to, and the link stays as it is.
Result<std::string> follow_root_link(const std::string& dest) {
  struct stat st {};
  if (::lstat(dest.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return dest;
  if (::stat(dest.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return dest;
  RC_CHECK(check_symlink_may_be_followed(dest));
  char* real = ::realpath(dest.c_str(), nullptr);
  if (!real) return errno_error("cannot follow the symlink", dest, errno);
  std::string out(real);
  ::free(real);
  log_verbose("restoring " + dest + " into " + out + ", where its symlink points");
  return out;
}

// Creates dir and its missing parents; returns the topmost one it created ("" if none).
Result<std::string> make_parents(const std::string& dir) {
  std::string top, cur = dir;
  while (!cur.empty() && cur != "/" && ::access(cur.c_str(), F_OK) != 0) {
    top = cur;
    cur = cur.substr(0, cur.rfind('/'));
  }
  RC_CHECK(make_dirs(dir));
  return top;
}

// Extracts layers of one entry into the staging locations, collecting what every layer
// adds up to (files, bytes, directory fix-ups, hard links left for a second pass).
struct LayerExtraction {
  Store& store;
  const EntryInfo& entry;
  ExternalSymlinks symlinks;
  ProgressCounter* progress;
  DirFixups fixups;
  std::atomic<uint64_t> files{0}, bytes{0}, downloaded{0};
  std::mutex mu;
  std::vector<std::pair<size_t, Extractor::SkippedLink>> skipped;  // (layer, link)

  // Streams layer i through digest check, decompression and extraction into roots.
  Status run(size_t i, const std::vector<ExtractRoot>& roots) {
    const Descriptor& d = entry.layers[i];
    auto fail = [&](const Error& err) {
      return make_error(err.kind, "layer " + d.digest + ": " + err.message);
    };
    auto comp = compression_for_media_type(d.media_type);
    if (!comp.ok()) return fail(comp.error());
    Extractor extractor(roots, symlinks, &fixups);
    if (entry.size > 0) extractor.limit_file_size(entry.size);
    TarReader tar(&extractor);
    auto decomp = make_decompressor(comp.value(), layer_limit(d, entry), &tar);
    StopOnError guard(decomp.get());
    HashingSink hash(&guard);
    LimitSink limit(&hash, d.size, "the blob");
    ProgressSink counted(&limit, progress);
    InterruptibleSink interruptible(&counted);
    Status st = store.get_blob(d, &interruptible);
    if (!st.ok() && st.error().kind != ErrorKind::integrity) return st;  // transport, not content
    if (!st.ok()) return fail(st.error());
    if (hash.bytes() != d.size) {
      return fail(make_error(
          ErrorKind::integrity,
          "size does not match the manifest (" + std::to_string(d.size) + " bytes declared)"));
    }
    if (hash.digest() != d.digest)
      return fail(make_error(ErrorKind::integrity, "content does not match its digest"));
    st = guard.finish();
    if (!st.ok()) return fail(st.error());
    {
      std::lock_guard lock(mu);
      for (const auto& link : extractor.skipped_links()) skipped.emplace_back(i, link);
    }
    files += extractor.files();
    bytes += extractor.bytes();
    downloaded += d.size;
    return {};
  }
};

void discard(std::vector<Staged>& staged);

// True when extraction created the staging location (something lay under its prefix).
bool was_staged(const Staged& s) {
  struct stat st {};
  return ::fstatat(s.parent_fd, s.staging_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}
void remove_created_parents(const std::vector<Staged>& staged);

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

Result<std::vector<Staged>> prepare_staging(const std::vector<RootPick>& picks,
                                            const RestoreOptions& o) {
  std::vector<Staged> out;
  for (const auto& pick : picks) {  // every destination resolved before anything is created
    Staged s;
    s.root = pick.prefix;
    if (pick.prefix != pick.scope) s.scope = pick.scope;
    std::string dest = RC_TRY(resolve_anchor(o.anchors, pick.prefix));
    s.dest = RC_TRY(follow_root_link(dest));
    if (s.dest == "/") return make_error(ErrorKind::hostile, "refusing to restore onto /");
    out.push_back(std::move(s));
  }
  for (auto& s : out) {
    std::string parent = s.dest.substr(0, s.dest.rfind('/'));
    if (parent.empty()) parent = "/";
    auto created = make_parents(parent);
    if (created.ok()) s.created_from = *created;
    if (created.ok()) s.parent_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!created.ok() || s.parent_fd < 0) {
      Error err = created.ok() ? errno_error("cannot open", parent, errno) : created.error();
      discard(out);
      remove_created_parents(out);
      return err;
    }
    remove_stale(parent, ".regcache-stage-");  // left by a killed restore
    s.staging_name = owned_temp_name(".regcache-stage-");
  }
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// Says once what the selection leaves out, and why.
void explain_selection(const Selection& sel, const RestoreOptions& o, const std::string& key) {
  for (const auto& w : sel.unheld) log_warning("entry " + key + " holds nothing under " + w);
  for (const auto& w : sel.optional) log_verbose("entry " + key + " holds nothing under " + w);
  if (!sel.skipped.empty() && o.paths.empty() && o.preset_paths.empty()) {
    log_warning("not restoring " + joined(sel.skipped) +
                ": outside the workspace (name them as paths, or pass --all-roots)");
  } else if (!sel.skipped.empty()) {
    log_info("Not restoring " + joined(sel.skipped) + " of entry " + key +
             ": not among the paths asked for");
  }
  if (o.all_roots == AllRoots::yes && o.paths.empty() && o.preset_paths.empty()) {
    std::vector<std::string> outside;
    for (const auto& p : sel.picks) {
      if (!archive_path_within(p.prefix, "ws")) outside.push_back(p.prefix);
    }
    if (!outside.empty()) log_warning("--all-roots: restoring " + joined(outside) + " too");
  }
}

// After a failed restore: removes the parent directories it created, if still empty.
void remove_created_parents(const std::vector<Staged>& staged) {
  for (const auto& s : staged) {
    if (s.created_from.empty()) continue;
    std::string dir = s.dest.substr(0, s.dest.rfind('/'));
    while (dir.size() >= s.created_from.size() && ::rmdir(dir.c_str()) == 0) {
      dir = dir.substr(0, dir.rfind('/'));
    }
  }
}

// Refuses to put a cached directory where the destination holds something else (a file,
// a symlink): that is the user's, and replacing it would lose it.
Status check_destinations(const std::vector<Staged>& staged) {
  for (const auto& s : staged) {
    struct stat st {
    }, d{};
    if (::fstatat(s.parent_fd, s.staging_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISDIR(st.st_mode) || ::lstat(s.dest.c_str(), &d) != 0 || S_ISDIR(d.st_mode)) continue;
    return make_error(ErrorKind::io, s.dest +
                                         " exists and is not a directory, but the cache holds "
                                         "a directory there; remove it to restore");
  }
  return {};
}

// Checks what the manifest claims before anything is written: a sane layer count and
// sizes, and a config blob that is an image config listing one diff_id per layer.
Status check_entry(Store& store, const FoundEntry& f) {
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
  if (mt != kConfigMediaType && mt != "application/vnd.docker.container.image.v1+json")
    return bad("its config is not an image config (" + mt + ")");
  if (e.config.size > kMaxConfigBytes) return bad("its config is too large");
  StringSink body(kMaxConfigBytes);
  HashingSink hash(&body);
  LimitSink limit(&hash, e.config.size, "the config");
  RC_CHECK(store.get_blob(e.config, &limit));
  if (hash.bytes() != e.config.size || hash.digest() != e.config.digest)
    return bad("its config does not match its digest");
  auto ids = parse_config_diff_ids(body.str());
  if (!ids.ok()) return bad("its config: " + ids.error().message);
  if (ids->size() != e.layers.size()) return bad("its config does not list one diff_id per layer");
  return {};
}

void discard(std::vector<Staged>& staged) {
  for (auto& s : staged) {
    if (s.parent_fd < 0) continue;
    (void)remove_tree(s.dest.substr(0, s.dest.rfind('/') + 1) + s.staging_name);
    ::close(s.parent_fd);
    s.parent_fd = -1;
  }
}

// A path restored on its own may hold a hard link to a file elsewhere in its root, whose
// content the first pass did not write. Each such file is taken from its layer again and
// written at the first link's place; the other links to it are linked to that one.
Status materialize_links(LayerExtraction& x, const std::vector<Staged>& staged) {
  std::map<size_t, std::map<std::string, std::vector<std::pair<const Staged*, std::string>>>> plan;
  for (const auto& [layer, link] : x.skipped) {
    for (const auto& s : staged) {
      if (!archive_path_within(link.link, s.root)) continue;
      std::string rel = link.link == s.root ? "" : link.link.substr(s.root.size() + 1);
      plan[layer][link.target].emplace_back(&s, rel);
    }
  }
  for (auto& [layer, targets] : plan) {
    std::vector<ExtractRoot> roots;
    for (auto& [target, links] : targets) {
      const auto& [s, rel] = links.front();
      roots.push_back(
          {target, s->parent_fd, rel.empty() ? s->staging_name : s->staging_name + "/" + rel, ""});
    }
    x.skipped.clear();
    RC_CHECK(x.run(layer, roots));
    for (auto& [target, links] : targets) {
      const auto& [first, first_rel] = links.front();
      std::string from =
          first_rel.empty() ? first->staging_name : first->staging_name + "/" + first_rel;
      for (size_t i = 1; i < links.size(); ++i) {
        const auto& [s, rel] = links[i];
        std::string to = rel.empty() ? s->staging_name : s->staging_name + "/" + rel;
        if (::linkat(first->parent_fd, from.c_str(), s->parent_fd, to.c_str(), 0) != 0)
          return errno_error("cannot create hard link", links[i].second, errno);
        ++x.files;
      }
      log_verbose(links.front().second + ": its content taken from " + target);
    }
  }
  return {};
}

}  // namespace

Result<std::optional<FoundEntry>> find_entry(Store& store, const std::string& key,
                                             const std::vector<std::string>& prefixes,
                                             const std::vector<std::string>& trust, bool* exact) {
  auto trusted = [&](const FoundEntry& f) {
    if (trust.empty() || ref_trusted(f.info.ref, trust)) return true;
    log_info("Not trusting " + f.info.key + ": saved from " +
             (f.info.ref.empty() ? std::string("an unknown ref") : f.info.ref) +
             ", which no --trust pattern matches");
    return false;
  };
  std::string tag = tag_for_key(key);
  auto e = RC_TRY(entry_at(store, tag));
  if (e && (e->info.key == key || (e->info.key.empty() && tag == key)) && trusted(*e)) {
    *exact = true;
    log_verbose("exact key matched: " + key);
    return e;
  }
  *exact = false;
  if (prefixes.empty()) return std::optional<FoundEntry>();
  auto tags = RC_TRY(store.list_tags());
  for (const auto& prefix : prefixes) {
    std::string tp = tag_prefix_for(prefix);
    std::optional<FoundEntry> best;
    for (const auto& t : tags) {
      if (t.rfind(tp, 0) != 0) continue;
      auto cand = entry_at(store, t);
      if (!cand.ok()) {
        log_verbose("skipping " + t + ": " + cand.error().message);
        continue;
      }
      if (!*cand || (*cand)->info.key.rfind(prefix, 0) != 0) continue;
      if (best && (*cand)->info.created <= best->info.created) continue;
      if (!trusted(**cand)) continue;
      best = std::move(*cand);
    }
    if (best) {
      log_verbose("restore key '" + prefix + "' matched " + best->info.key +
                  " (newest of its prefix)");
      return best;
    }
  }
  return std::optional<FoundEntry>();
}

Result<RestoreReport> restore_entry(Store& store, const RestoreOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  RC_CHECK(validate_key(o.key));
  for (const auto& p : o.restore_keys) RC_CHECK(validate_key(p));
  RestoreReport rep;
  rep.key = o.key;
  bool exact = false;
  auto found = RC_TRY(find_entry(store, o.key, o.restore_keys, o.trust, &exact));
  auto done = [&] {
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
  };
  if (!found) {
    rep.result = "miss";
    return done();
  }
  rep.result = exact ? "hit" : "partial";
  rep.matched_key = found->info.key.empty() ? found->tag : found->info.key;
  rep.matched_digest = found->digest;
  const EntryInfo& e = found->info;
  if (o.lookup_only == LookupOnly::yes) return done();
  if (e.roots.empty()) {
    return make_error(ErrorKind::integrity,
                      "entry " + found->tag + " is not a regcache entry (no roots)");
  }
  RC_CHECK(check_roots(e, o.anchors));
  auto wanted = RC_TRY(wanted_paths(o));
  Selection sel = select_roots(e.roots, wanted, o.all_roots);
  explain_selection(sel, o, rep.matched_key);
  rep.missing_paths = sel.unheld;
  rep.skipped_roots = sel.skipped;
  if (sel.picks.empty()) {
    rep.result = "miss";
    rep.miss_reason = sel.unheld.empty() && sel.optional.empty()
                          ? "entry " + rep.matched_key + " holds nothing inside the workspace"
                          : "entry " + rep.matched_key + " holds none of the paths asked for";
    return done();
  }
  RC_CHECK(check_entry(store, *found));
  auto staged = RC_TRY(prepare_staging(sel.picks, o));
  std::vector<ExtractRoot> roots;
  for (const auto& s : staged) roots.push_back({s.root, s.parent_fd, s.staging_name, s.scope});
  LayerExtraction x{store, e, o.symlinks, o.progress};
  if (o.progress) {
    for (const auto& l : e.layers) o.progress->total += l.size;
  }
  Status st = parallel_for(e.layers.size(), o.jobs, [&](size_t i) { return x.run(i, roots); });
  if (st.ok() && !x.skipped.empty()) st = materialize_links(x, staged);
  if (st.ok()) st = x.fixups.apply();
  if (st.ok()) st = check_destinations(staged);
  if (st.ok()) st = check_interrupted();  // the last moment to leave the destinations as they were
  size_t placed = 0;
  std::vector<Staged> unplaced;  // paths inside roots that the entry turned out not to hold
  for (size_t i = 0; st.ok() && i < staged.size(); ++i) {
    if (!staged[i].scope.empty() && !was_staged(staged[i])) {
      log_warning("entry " + rep.matched_key + " holds nothing under " + staged[i].root);
      rep.missing_paths.push_back(staged[i].root);
      unplaced.push_back(staged[i]);
      continue;
    }
    st = place_staged(staged[i].parent_fd, staged[i].staging_name, staged[i].dest);
    ++placed;
  }
  discard(staged);
  remove_created_parents(st.ok() ? unplaced : staged);
  RC_CHECK(st);
  rep.downloaded_bytes = x.downloaded;
  rep.files = x.files;
  rep.bytes = x.bytes;
  if (placed == 0) {
    rep.result = "miss";
    rep.miss_reason = "entry " + rep.matched_key + " holds none of the paths asked for";
  }
  return done();
}

}  // namespace regcache
