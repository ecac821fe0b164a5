// The restore pipeline: resolve the key (exact, then restore-key prefixes, newest first)
// → manifest → download layers in parallel, each streamed through size limit, digest
// check, decompression and safe extraction into staging directories next to the
// destinations → move into place only when every digest matched.
#pragma once

#include "regcache/util/progress_counter.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "regcache/archive/extractor.hpp"
#include "regcache/core/file_records.hpp"
#include "regcache/core/lookup.hpp"
#include "regcache/core/restore_selection.hpp"
#include "regcache/format/anchor.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

enum class LookupOnly { no, yes };

struct RestoreOptions {
  std::string key;
  std::vector<std::string> restore_keys;  // prefixes, in order
  std::vector<std::string> paths;         // restore only these (roots, or paths inside roots)
  std::vector<std::string> preset_paths;  // and these, which the entry may not hold
  AllRoots all_roots = AllRoots::no;      // no paths: every root, not only the workspace's
  Anchors anchors;
  LookupOnly lookup_only = LookupOnly::no;
  ExternalSymlinks symlinks = ExternalSymlinks::allow;
  uint32_t mode_mask = 0;  // permission bits cleared on everything restored (see Extractor)
  size_t jobs = 4;
  size_t cpu_jobs = 1;  // cores the extraction may keep busy (a big layer may get a second)
  EntryFilter filter;   // --trust and --verify-key; empty: every entry counts
  ProgressCounter* progress = nullptr;  // blob bytes downloaded so far
  // Called with the manifest digest once an entry is matched and will be restored (not for
  // a lookup only), before any blob is read: work that may run alongside the downloads.
  std::function<void(const std::string&)> on_match;
  FileRecordPlace records;  // where the files written are recorded for the next save here
};

// How a restore went: the exact key, a restore-key match, or nothing restored.
enum class RestoreResult { hit, partial, miss };

// Returns "hit", "partial" or "miss" (the --json and summary spelling).
const char* to_string(RestoreResult r);

struct RestoreReport {
  RestoreResult result = RestoreResult::miss;
  std::string key, matched_key;
  std::string matched_digest;  // manifest digest of the restored entry
  std::string signer;          // with verify keys: the key fingerprint whose signature held
  std::string source;          // with a local tier: "registry" or "local" (the fallback)
  uint64_t local_bytes = 0;    // with a local tier: blob bytes read from it
  uint64_t files = 0, bytes = 0, downloaded_bytes = 0;
  double seconds = 0;
  std::vector<std::string> missing_paths;  // paths asked for that the entry does not hold
  std::vector<std::string> skipped_roots;  // roots of the entry this restore did not write
  std::string miss_reason;  // why an entry that matched still gave a miss ("" otherwise)
};

// Restores the best matching entry; a miss is a successful report with result "miss".
Result<RestoreReport> restore_entry(Store& store, const RestoreOptions& options);

}  // namespace regcache
