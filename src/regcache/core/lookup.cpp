#include "regcache/core/lookup.hpp"

#include <algorithm>

#include "regcache/core/entry_signing.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/format/trust.hpp"
#include "regcache/store/referrers.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

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

}  // namespace

Result<bool> entry_accepted(Store& store, FoundEntry& found, const EntryFilter& filter) {
  if (!filter.trust.empty() && !ref_trusted(found.info.ref, filter.trust)) {
    log_info("Not trusting " + found.info.key + ": saved from " +
             (found.info.ref.empty() ? std::string("an unknown ref") : found.info.ref) +
             ", which no --trust pattern matches");
    return false;
  }
  if (filter.verify_keys.empty()) return true;
  auto check = RC_TRY(check_entry_signature(store, found.digest, filter.verify_keys));
  if (!check.valid) {
    log_verbose("skipping " + found.info.key + ": no valid signature (" + check.reason + ")");
    return false;
  }
  log_verbose(found.info.key + ": signature by " + check.key_fingerprint + " is valid");
  found.signer = check.key_fingerprint;
  return true;
}

Result<std::optional<FoundEntry>> find_entry(Store& store, const std::string& key,
                                             const std::vector<std::string>& prefixes,
                                             const EntryFilter& filter) {
  std::string tag = tag_for_key(key);
  auto e = RC_TRY(entry_at(store, tag));
  if (e && (e->info.key == key || (e->info.key.empty() && tag == key)) &&
      RC_TRY(entry_accepted(store, *e, filter))) {
    log_verbose("exact key matched: " + key);
    return e;
  }
  if (prefixes.empty()) return std::optional<FoundEntry>();
  auto tags = RC_TRY(store.list_tags());
  for (const auto& prefix : prefixes) {
    std::string tp = tag_prefix_for(prefix);
    std::vector<FoundEntry> candidates;
    for (const auto& t : tags) {
      if (t.rfind(tp, 0) != 0 || is_referrers_tag(t)) continue;
      auto cand = entry_at(store, t);
      if (!cand.ok()) {
        log_verbose("skipping " + t + ": " + cand.error().message);
        continue;
      }
      if (!*cand || (*cand)->info.key.rfind(prefix, 0) != 0) continue;
      candidates.push_back(std::move(**cand));
    }
    // Newest first; the first one the filter accepts is the match.
    std::stable_sort(
        candidates.begin(), candidates.end(),
        [](const FoundEntry& a, const FoundEntry& b) { return a.info.created > b.info.created; });
    for (auto& c : candidates) {
      if (!RC_TRY(entry_accepted(store, c, filter))) continue;
      c.match = Match::prefix;
      log_verbose("restore key '" + prefix + "' matched " + c.info.key + " (newest of its prefix)");
      return std::optional<FoundEntry>(std::move(c));
    }
  }
  return std::optional<FoundEntry>();
}

}  // namespace regcache
