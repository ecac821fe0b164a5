// Reads every cache entry of a store: lists the tags, then reads the manifests a bounded
// number at a time in parallel (8 in flight by default), or for what it is shown, takes
// the lookup index's rows for the tags it knows. Tags that hold no regcache entry,
// regcache's own records and referrers tags are skipped; an entry whose referrers tag is
// listed and whose signers the index does not know costs one more request for the keys
// its signatures name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "regcache/format/entry_format.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

struct ListedEntry {
  std::string tag, digest;
  EntryInfo info;                    // from the index: without config, layers, roots and commit
  std::vector<std::string> signers;  // key fingerprints its signatures claim (not checked)
  bool has_referrers = false;        // its referrers tag exists (signatures, or anything else)
  uint64_t stored = 0;               // the compressed size: the sum of the layer sizes
  uint64_t layers = 0;               // how many layers
};

// Where the listing takes what it says about an entry.
enum class ListFrom {
  index,      // the lookup index's rows, for the tags it knows (to show entries)
  manifests,  // every manifest (to delete entries and their blobs)
};

// Returns the entries whose key starts with prefix, newest first, reading up to `jobs`
// manifests at once.
Result<std::vector<ListedEntry>> list_entries(Store& store, const std::string& prefix,
                                              ListFrom from, size_t jobs = 8);

}  // namespace regcache
