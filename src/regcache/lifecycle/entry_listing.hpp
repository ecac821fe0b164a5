// Reads every cache entry of a store: lists the tags, then reads the manifests a bounded
// number at a time in parallel (a registry with thousands of tags costs one request per
// tag, 8 in flight by default). Tags that hold no regcache entry, the usage record and
// referrers tags are skipped; an entry whose referrers tag is listed costs one more request
// for the keys its signatures name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "regcache/format/entry_format.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

struct ListedEntry {
  std::string tag, digest;
  EntryInfo info;
  std::string ref;  // dev.regcache.ref: the git ref that wrote the entry, when annotated
  std::vector<std::string> signers;  // key fingerprints its signatures claim (not checked)
  bool has_referrers = false;        // its referrers tag exists (signatures, or anything else)
  // Returns the compressed size: the sum of the layer sizes.
  uint64_t compressed_bytes() const;
};

// Returns the entries whose key starts with prefix, newest first, reading up to `jobs`
// manifests at once.
Result<std::vector<ListedEntry>> list_entries(Store& store, const std::string& prefix,
                                              size_t jobs = 8);

}  // namespace regcache
