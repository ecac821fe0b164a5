// The save pipeline: resolve paths → walk → plan packs → compress packs in parallel →
// upload what the store lacks → config → manifest → tag (last, so a tag never points at
// anything incomplete).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "regcache/archive/compression.hpp"
#include "regcache/core/cache_paths.hpp"
#include "regcache/core/file_records.hpp"
#include "regcache/core/lookup.hpp"
#include "regcache/format/anchor.hpp"
#include "regcache/format/pack_plan.hpp"
#include "regcache/format/trust.hpp"
#include "regcache/store/store.hpp"
#include "regcache/util/ed25519.hpp"
#include "regcache/util/progress_counter.hpp"

namespace regcache {

enum class Overwrite { no, yes };

// A save whose paths hold no regular file: write nothing ("empty"), or an empty entry.
enum class EmptySave { skip, keep };

// Whether a save may stack a delta layer on its base entry (REGCACHE_DELTAS=0: never).
enum class DeltaLayers { allowed, never };

struct SaveOptions {
  std::string key;
  std::vector<std::string> paths;           // as given: may hold '~', globs and "!exclusions"
  std::vector<std::string> excludes;        // --exclude globs
  std::vector<std::string> optional_paths;  // from presets: saved when present
  Anchors anchors;
  Overwrite overwrite = Overwrite::no;
  EmptySave empty = EmptySave::skip;
  Compression compression = Compression::zstd;
  int level = 3;
  std::optional<PackOptions> packs;        // nullopt: sized from the cache (see choose_packs)
  size_t jobs = 2;                         // uploads and registry requests at once
  size_t cpu_jobs = 2;                     // packs read and compressed at once
  std::string base_key;                    // --base: reuse unchanged layers of this entry
  std::string base_digest;                 // else: the manifest the last restore in this job used
  std::vector<std::string> base_prefixes;  // else: the newest entry matching one (in order)
  Store* base_store = nullptr;  // where the base entry lives (nullptr: the store saved to)

  // Roots already resolved, used instead of paths (import: sources in a staging directory).
  std::optional<PathSpec> resolved;
  GitOrigin origin;  // recorded in the entry (dev.regcache.ref/commit)
  // An existing entry the filter does not accept is replaced, and only an accepted entry
  // may serve as the base (its layers are reused on its word).
  EntryFilter filter;
  const Ed25519Key* sign_key = nullptr;  // signs the entry (docs/format.md, "Signatures")
  ProgressCounter* progress = nullptr;   // tar bytes packed so far (reused packs count too)
  DeltaLayers deltas = DeltaLayers::allowed;
  FileRecordPlace records;  // files unchanged since they were recorded here are not read
};

// What a save did: wrote an entry, found the key stored already, or had nothing to save.
enum class SaveResult { saved, exists, empty };

// Returns "saved", "exists" or "empty" (the --json and summary spelling).
const char* to_string(SaveResult r);

struct SaveReport {
  SaveResult result = SaveResult::saved;
  std::string key, tag, digest;
  std::string base_key;  // the entry whose layers were considered for reuse, if any
  std::string signer;    // the fingerprint of the key that signed it, when signed
  uint64_t files = 0, bytes = 0, uploaded_bytes = 0, layers = 0, reused_layers = 0;
  uint64_t unread_files = 0;  // regular files taken from the file records without reading
  double seconds = 0;
};

// Saves the paths under the key; "exists" (nothing read or uploaded) when the key is
// stored already and overwrite is no; "empty" (nothing written) when the paths hold no
// regular file and empty is skip.
Result<SaveReport> save_entry(Store& store, const SaveOptions& options);

}  // namespace regcache
