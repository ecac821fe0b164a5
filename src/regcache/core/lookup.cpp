#include "regcache/core/lookup.hpp"

#include <algorithm>
#include <memory>

#include "regcache/core/entry_signing.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/format/trust.hpp"
#include "regcache/store/referrers.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/parallel.hpp"

namespace regcache {

namespace {

// How many manifests a lookup reads at once when the index does not place them.
constexpr size_t kLookupReads = 8;

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

// An entry that may match a prefix: placed by its index row until its manifest is read.
struct Candidate {
  std::string tag;
  std::string created;
  std::string hinted_digest;          // the index row's, when placed by one
  std::unique_ptr<FoundEntry> entry;  // once its manifest is read (a pointer: candidates move)
};

template <typename It>
void sort_newest_first(It begin, It end) {
  std::stable_sort(begin, end,
                   [](const Candidate& a, const Candidate& b) { return a.created > b.created; });
}

// Reads the manifest under tag; nullopt when it is gone, unreadable or not a regcache
// entry whose key starts with prefix. Tells the index what it read.
std::optional<FoundEntry> read_candidate(Store& store, const std::string& tag,
                                         const std::string& prefix, LookupIndex& index) {
  auto cand = entry_at(store, tag);
  if (!cand.ok()) {
    log_verbose("skipping " + tag + ": " + cand.error().message);
    return std::nullopt;
  }
  if (!*cand || (*cand)->info.key.empty()) return std::nullopt;
  index.learned(tag, index_row((*cand)->digest, (*cand)->info));
  if ((*cand)->info.key.rfind(prefix, 0) != 0) return std::nullopt;
  return std::move(*cand);
}

// Returns the entries whose tag and key may start with prefix, newest first: those the
// index places, and those it does not know, read now (a few at a time).
std::vector<Candidate> candidates_for(Store& store, const std::vector<std::string>& tags,
                                      const IndexRows& rows, const std::string& prefix,
                                      LookupIndex& index) {
  const std::string tp = tag_prefix_for(prefix);
  std::vector<Candidate> out;
  out.reserve(tags.size());
  std::vector<size_t> unknown;
  for (const auto& t : tags) {
    if (t.rfind(tp, 0) != 0 || is_referrers_tag(t) || is_reserved_tag(t)) continue;
    // A row naming another key is read all the same: the manifest's key decides.
    auto row = rows.find(t);
    if (row != rows.end() && row->second.key.rfind(prefix, 0) == 0) {
      out.push_back({t, row->second.created, row->second.digest, nullptr});
    } else {
      unknown.push_back(out.size());
      out.push_back({t, "", "", nullptr});
    }
  }
  (void)parallel_for(unknown.size(), kLookupReads, [&](size_t i) -> Status {
    Candidate& c = out[unknown[i]];
    if (auto e = read_candidate(store, c.tag, prefix, index)) {
      c.created = e->info.created;
      c.entry = std::make_unique<FoundEntry>(std::move(*e));
    }
    return {};
  });
  std::erase_if(out, [](const Candidate& c) { return c.hinted_digest.empty() && !c.entry; });
  sort_newest_first(out.begin(), out.end());
  return out;
}

// Reads a candidate the index placed; false when it is no longer a matching entry. A
// manifest that is not the one the row names is a stale row: the caller re-places it.
Result<bool> confirm(Store& store, Candidate* c, const std::string& prefix, LookupIndex& index) {
  auto e = read_candidate(store, c->tag, prefix, index);
  if (!e) return false;
  c->entry = std::make_unique<FoundEntry>(std::move(*e));
  if (c->entry->digest != c->hinted_digest)
    log_verbose("the lookup index is stale for " + c->tag + "; placing it by its manifest");
  return true;
}

}  // namespace

Result<bool> entry_accepted(Store& store, FoundEntry& found, const EntryFilter& filter) {
  if (std::find(filter.excluded.begin(), filter.excluded.end(), found.digest) !=
      filter.excluded.end()) {
    log_verbose("skipping " + found.info.key + ": its copy here failed to restore");
    return false;
  }
  if (!filter.trust.empty() && !ref_trusted(found.info.ref, filter.trust)) {
    log_info("Not trusting " + found.info.key + ": saved from " +
             (found.info.ref.empty() ? std::string("an unknown ref") : found.info.ref) +
             ", which no --trust pattern matches");
    return false;
  }
  if (filter.blobs == BlobPresence::checked) {
    // (A layout's has_blob also touches each blob, so an eviction at once takes others.)
    std::vector<Descriptor> blobs = found.info.layers;
    blobs.push_back(found.info.config);
    for (const auto& d : blobs) {
      if (!RC_TRY(store.has_blob(d))) {
        log_verbose("skipping " + found.info.key + ": its blob " + d.digest + " is not in " +
                    store.describe());
        return false;
      }
    }
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
                                             const EntryFilter& filter, LookupIndex* index) {
  std::string tag = tag_for_key(key);
  auto exact = entry_at(store, tag);
  if (!exact.ok() && (!filter.verify_keys.empty() || filter.blobs == BlobPresence::checked) &&
      is_content_error(exact.error().kind)) {
    // No key signs what does not parse, and a local tier's damaged copy is not the entry:
    // the restore keys may still match one.
    log_verbose("skipping " + tag + ": " + exact.error().message);
    exact = std::optional<FoundEntry>();
  }
  auto e = RC_TRY(std::move(exact));
  if (e && (e->info.key == key || (e->info.key.empty() && tag == key)) &&
      RC_TRY(entry_accepted(store, *e, filter))) {
    log_verbose("exact key matched: " + key);
    return e;
  }
  if (prefixes.empty()) return std::optional<FoundEntry>();
  std::unique_ptr<LookupIndex> own;
  if (!index) index = (own = std::make_unique<LookupIndex>(store)).get();
  index->start_read();  // beside the tag list
  auto tags = RC_TRY(store.list_tags());
  index->tags_listed(tags);
  const auto rows_held = index->rows();
  const IndexRows& rows = *rows_held;
  for (const auto& prefix : prefixes) {
    auto candidates = candidates_for(store, tags, rows, prefix, *index);
    // Newest first; the first one the filter accepts is the match.
    for (size_t i = 0; i < candidates.size();) {
      Candidate& c = candidates[i];
      if (!c.entry && !RC_TRY(confirm(store, &c, prefix, *index))) {
        candidates.erase(candidates.begin() + i);
        continue;
      }
      if (c.created != c.entry->info.created) {
        // The index was stale: place the entry by what its manifest says.
        c.created = c.entry->info.created;
        sort_newest_first(candidates.begin() + i, candidates.end());
        continue;
      }
      if (!RC_TRY(entry_accepted(store, *c.entry, filter))) {
        ++i;
        continue;
      }
      c.entry->match = Match::prefix;
      log_verbose("restore key '" + prefix + "' matched " + c.entry->info.key +
                  " (newest of its prefix)");
      return std::optional<FoundEntry>(std::move(*c.entry));
    }
  }
  return std::optional<FoundEntry>();
}

}  // namespace regcache
