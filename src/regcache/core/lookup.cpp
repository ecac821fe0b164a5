#include "regcache/core/lookup.hpp"

#include "regcache/format/key_tag.hpp"
#include "regcache/format/trust.hpp"
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

Result<std::optional<FoundEntry>> find_entry(Store& store, const std::string& key,
                                             const std::vector<std::string>& prefixes,
                                             const std::vector<std::string>& trust) {
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
    log_verbose("exact key matched: " + key);
    return e;
  }
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
      best->match = Match::prefix;
    }
    if (best) {
      log_verbose("restore key '" + prefix + "' matched " + best->info.key +
                  " (newest of its prefix)");
      return best;
    }
  }
  return std::optional<FoundEntry>();
}

}  // namespace regcache
