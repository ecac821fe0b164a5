#include "regcache/core/save_base.hpp"

#include <algorithm>

#include "regcache/core/entry_index.hpp"
#include "regcache/core/entry_signing.hpp"
#include "regcache/core/lookup.hpp"
#include "regcache/format/file_list.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/format/trust.hpp"
#include "regcache/store/fetch_verified.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

// Which entries may serve as the base: the filter's, and with a signing key only entries
// signed by it or a verify key (a signed entry must not take layers on an unsigned word).
EntryFilter base_filter(const SaveOptions& o) {
  EntryFilter f = o.filter;
  if (o.sign_key) f.verify_keys.push_back(*o.sign_key);
  return f;
}

// The base entry: --base, else the entry the last restore used, else the newest entry
// matching the restore-key prefixes (find_entry, as restore looks them up).
Result<std::optional<EntryInfo>> base_manifest(Store& store, const SaveOptions& o,
                                               LookupIndex* index) {
  std::string ref = o.base_key.empty() ? o.base_digest : tag_for_key(o.base_key);
  if (ref.empty() && !o.base_prefixes.empty()) {
    auto found = RC_TRY(find_entry(store, o.key, o.base_prefixes, base_filter(o), index));
    if (!found) return std::optional<EntryInfo>();
    log_verbose("base entry by restore key: " + found->info.key);
    return std::optional<EntryInfo>(std::move(found->info));
  }
  if (ref.empty()) return std::optional<EntryInfo>();
  auto m = RC_TRY(store.get_manifest(ref));
  if (!m) {
    if (!o.base_key.empty())
      log_warning("base entry " + o.base_key + " not found; saving everything");
    return std::optional<EntryInfo>();
  }
  auto info = RC_TRY(parse_manifest(m->bytes));
  if (!o.base_key.empty() && info.key != o.base_key) {
    log_warning("tag of base key " + o.base_key + " holds another entry; saving everything");
    return std::optional<EntryInfo>();
  }
  // Reused layers are taken on the base's word (their fingerprints), so with --trust only
  // an entry saved from a trusted ref may serve as the base.
  if (!o.filter.trust.empty() && !ref_trusted(info.ref, o.filter.trust)) {
    log_info("Not reusing layers of " + info.key + ": saved from " +
             (info.ref.empty() ? std::string("an unknown ref") : info.ref) +
             ", which no --trust pattern matches");
    return std::optional<EntryInfo>();
  }
  // So with keys (a signing save's own included): only a validly signed entry.
  if (auto keys = base_filter(o).verify_keys; !keys.empty()) {
    auto check = RC_TRY(check_entry_signature(store, m->digest, keys));
    if (!check.valid) {
      log_info("Not reusing layers of " + info.key + ": no valid signature (" + check.reason + ")");
      return std::optional<EntryInfo>();
    }
  }
  return std::optional<EntryInfo>(std::move(info));
}

}  // namespace

Result<SaveBase> load_base(Store& store, const SaveOptions& o, LookupIndex& index) {
  SaveBase base;
  Store& from = o.base_store ? *o.base_store : store;
  auto info = RC_TRY(base_manifest(from, o, o.base_store ? nullptr : &index));
  if (!info) return base;
  StringSink config(kMaxConfigBytes);
  Status fetched = fetch_verified(from, info->config, &config);
  if (!fetched.ok() && fetched.error().kind == ErrorKind::integrity)
    return make_error(ErrorKind::integrity, "config of base entry does not match its digest");
  RC_CHECK(fetched);
  auto parsed = parse_config(config.str());
  auto diff_ids = parsed.ok() ? Result<std::vector<std::string>>(std::move(parsed->diff_ids))
                              : Result<std::vector<std::string>>(parsed.error());
  if (!diff_ids.ok() || diff_ids->size() != info->layers.size()) {
    return make_error(ErrorKind::integrity, "config of base entry has no matching diff_ids");
  }
  for (size_t i = 0; i < info->layers.size(); ++i) {
    auto fp = info->layers[i].annotations.find(kAnnoFingerprint);
    if (fp == info->layers[i].annotations.end() || (*diff_ids)[i].empty()) continue;
    base.by_fingerprint[fp->second] = {info->layers[i], (*diff_ids)[i]};
  }
  base.key = info->key;
  base.pack_target = info->pack_target;
  if (!o.base_store) base.config_here = info->config.digest;
  if (!o.base_store) {
    auto& list = parsed->file_list;
    auto files = list.ok() && !list->empty()
                     ? decode_file_list(*list)
                     : Result<std::vector<FileRecord>>(std::vector<FileRecord>());
    if (!list.ok()) log_verbose("base entry " + info->key + ": " + list.error().message);
    if (!files.ok()) log_verbose("base entry " + info->key + ": " + files.error().message);
    // A delta keeps every layer of the base, so only a base compressed as asked lends them.
    const bool same_compression = std::all_of(
        info->layers.begin(), info->layers.end(),
        [&](const Descriptor& l) { return l.media_type == layer_media_type(o.compression); });
    if (files.ok() && !files->empty() && same_compression) {
      base.delta = {info->layers, info->roots, std::move(files).value()};
      base.diff_ids = std::move(diff_ids).value();
    }
  }
  log_verbose("base entry " + base.key + ": " + std::to_string(base.by_fingerprint.size()) +
              " layers with fingerprints");
  return base;
}

std::optional<LayerInfo> reusable_layer(const SaveBase& base, const std::string& fp,
                                        Compression c) {
  auto it = base.by_fingerprint.find(fp);
  if (it == base.by_fingerprint.end()) return std::nullopt;
  if (it->second.descriptor.media_type != layer_media_type(c)) return std::nullopt;
  return it->second;
}

}  // namespace regcache
