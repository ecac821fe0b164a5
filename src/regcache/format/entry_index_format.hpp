// The lookup index (format version 1): one small OCI artifact under the tag
// `regcache-index` that says, for each entry tag, what its manifest says (digest, key,
// created, sizes, ref), so that a lookup or `list` can place entries without reading every
// manifest. Rows are hints: the tag list stays the source of truth, and a manifest read
// for an entry is checked against its row's digest. Rows live in the manifest's
// annotation (the newest ones) and in one zstd-compressed JSON blob (the rest, rewritten
// when the annotation grows past kInlineIndexRows). See docs/format.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "regcache/format/key_tag.hpp"
#include "regcache/oci/descriptor.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

inline constexpr const char* kIndexArtifactType = "application/vnd.dev.regcache.index.v1+json";
inline constexpr const char* kIndexRowsMediaType =
    "application/vnd.dev.regcache.index.rows.v1+json+zstd";
inline constexpr const char* kAnnoIndexRows = "dev.regcache.index.rows";

// The most rows kept in the manifest's annotation before they move to the blob.
inline constexpr size_t kInlineIndexRows = 128;
// The most rows an index holds and the most bytes their JSON takes (the oldest rows go
// first), which also bound what a reader accepts: a rows blob decompresses to at most
// kMaxIndexRowsBytes, and rows JSON holds at most kMaxIndexJsonValues values, checked
// before it is parsed into memory.
inline constexpr size_t kMaxIndexRows = 50000;
inline constexpr uint64_t kMaxIndexRowsBytes = 16ull << 20;
inline constexpr size_t kMaxIndexJsonValues = kMaxIndexRows * 24;
// Per row: at most this many signers, and this many characters in a field.
inline constexpr size_t kMaxIndexSigners = 16;
inline constexpr size_t kMaxIndexFieldChars = 1024;

// What the index says about one entry tag.
struct IndexRow {
  std::string digest;                                    // of the entry's manifest
  std::string key;                                       // the entry's key
  std::string created;                                   // RFC 3339, as the manifest says
  std::string ref;                                       // dev.regcache.ref, may be empty
  uint64_t files = 0, size = 0, stored = 0, layers = 0;  // stored: sum of layer sizes
  // The key fingerprints its signatures claim, when the writer knew them.
  std::optional<std::vector<std::string>> signers;
  bool operator==(const IndexRow&) const = default;
};

// Rows by entry tag.
using IndexRows = std::map<std::string, IndexRow>;

// The index as its manifest states it.
struct IndexManifest {
  IndexRows inline_rows;
  std::optional<Descriptor> rows_blob;  // the blob with the other rows, when there is one
};

// Returns rows as JSON ({"rows":{TAG:{...}}}).
std::string rows_json(const IndexRows& rows);

// Parses rows JSON; a row with an invalid tag, digest or field is dropped, and the oldest
// beyond the bounds above. Malformed JSON, or more values than kMaxIndexJsonValues, is an
// ErrorKind::integrity error.
Result<IndexRows> parse_rows_json(const std::string& json);

// Drops the oldest rows (by created) until kMaxIndexRows and kMaxIndexRowsBytes hold.
void keep_newest_rows(IndexRows* rows);

// Returns the index manifest (config and absent blob: the OCI empty descriptor).
std::string build_index_manifest(const IndexManifest& index, const std::string& created);

// Parses an index manifest; an error says what is malformed.
Result<IndexManifest> parse_index_manifest(const std::string& json);

}  // namespace regcache
