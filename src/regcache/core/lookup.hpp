// Finding an entry: the exact key, else for each restore-key prefix in order the newest
// entry whose key really starts with it (tags only narrow the search, the lookup index
// only places entries; the manifest's key annotation decides), skipping entries saved
// from a ref no --trust pattern matches and, with verify keys, entries without a valid
// signature by one of them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "regcache/core/entry_index.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/store/store.hpp"
#include "regcache/util/ed25519.hpp"

namespace regcache {

enum class Match { exact, prefix };

struct FoundEntry {
  std::string tag;
  std::string digest;  // of the manifest
  EntryInfo info;
  Match match = Match::exact;
  std::string signer;  // with verify keys: the fingerprint of the key whose signature is valid
};

// Whether an entry's blobs are asked for before it is taken.
enum class BlobPresence {
  assumed,  // a registry keeps an entry's blobs
  checked,  // a local tier evicts blobs by themselves: an entry missing one is skipped
};

// Which entries may be used.
struct EntryFilter {
  std::vector<std::string> trust;       // --trust ref patterns; empty: any ref
  std::vector<Ed25519Key> verify_keys;  // --verify-key; empty: no signature needed
  BlobPresence blobs = BlobPresence::assumed;
  std::vector<std::string> excluded;  // manifest digests never taken (a tier's damaged copies)
};

// Returns whether the entry passes the filter (logging why not); sets found.signer.
Result<bool> entry_accepted(Store& store, FoundEntry& found, const EntryFilter& filter);

// Returns the entry for key, else the newest accepted one for each prefix in order;
// nullopt on a miss. Prefixes are placed with the store's lookup index (`index`, else one
// of its own that it does not write): only entries it does not place, and the candidates
// in turn from the newest, have their manifests read; what it reads, it tells the index.
Result<std::optional<FoundEntry>> find_entry(Store& store, const std::string& key,
                                             const std::vector<std::string>& prefixes,
                                             const EntryFilter& filter,
                                             LookupIndex* index = nullptr);

}  // namespace regcache
