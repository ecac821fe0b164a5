// The cache entry format (format version 1): one OCI image manifest whose config is a
// valid image config and whose layers are tar+zstd (or tar+gzip) packs of the cached
// files under ws/, home/ and abs/. See docs/format.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regcache/oci/descriptor.hpp"
#include "regcache/oci/media_types.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

inline constexpr const char* kAnnoCreated = "org.opencontainers.image.created";
inline constexpr const char* kAnnoKey = "dev.regcache.key";
inline constexpr const char* kAnnoFormat = "dev.regcache.format";
inline constexpr const char* kAnnoRoots = "dev.regcache.roots";
inline constexpr const char* kAnnoFiles = "dev.regcache.files";
inline constexpr const char* kAnnoSize = "dev.regcache.size";
inline constexpr const char* kAnnoPackTarget = "dev.regcache.pack.target";
inline constexpr const char* kAnnoFingerprint = "dev.regcache.pack.fingerprint";
inline constexpr const char* kAnnoPackSize = "dev.regcache.pack.tar-size";
inline constexpr const char* kAnnoRef = "dev.regcache.ref";        // git ref that saved it
inline constexpr const char* kAnnoCommit = "dev.regcache.commit";  // and its commit
// On a layer: "true" when it is a delta stacked on the layers before it (OCI whiteouts
// inside), rather than a pack disjoint from the others.
inline constexpr const char* kAnnoDelta = "dev.regcache.pack.delta";
inline constexpr const char* kFormatVersion = "1";

// A layer as saved: its descriptor plus the digest of its uncompressed tar.
struct LayerInfo {
  Descriptor descriptor;
  std::string diff_id;
};

// What a manifest says about an entry.
struct EntryInfo {
  std::string key;                 // empty when the manifest is not a regcache entry
  std::string created;             // RFC 3339, may be empty
  std::vector<std::string> roots;  // archive roots, e.g. "ws/target"
  uint64_t files = 0;
  uint64_t size = 0;         // uncompressed content bytes
  uint64_t pack_target = 0;  // pack size the planner aimed at (0: unknown)
  std::string ref, commit;   // the git ref and commit of the job that saved it, if known
  Descriptor config;
  std::vector<Descriptor> layers;
};

// Returns true when the layer is marked as a delta (kAnnoDelta).
bool is_delta_layer(const Descriptor& layer);

// Returns the size of the layer's uncompressed tar that it declares (kAnnoPackSize), if any.
std::optional<uint64_t> declared_tar_size(const Descriptor& layer);

// The config's field holding the entry's file list (format/file_list.hpp).
inline constexpr const char* kConfigFileList = "dev.regcache.file-list";
// An entry's config is read whole, as large as a manifest may be (what regcache before the
// file list read too); a save leaves out a file list that would make it larger.
inline constexpr size_t kMaxConfigBytes = kMaxManifestBytes;

// Returns the image config JSON for the given layers and, when given, the encoded file list
// of the tree; it holds no timestamp, so the same content always gives the same config blob.
std::string build_config(const std::vector<LayerInfo>& layers, std::string_view file_list = {});

// Returns the manifest JSON of an entry (layers and config already described).
std::string build_manifest(const EntryInfo& entry);

// Parses a manifest (OCI or Docker schema 2); an error names what is malformed.
Result<EntryInfo> parse_manifest(const std::string& json);

// What an entry's image config says.
struct ImageConfig {
  std::vector<std::string> diff_ids;  // one per layer; an entry that is not a string is ""
  Result<std::string> file_list = std::string();  // encoded; "" when none, an error if malformed
};

// Parses an image config; an error when it has no rootfs.diff_ids.
Result<ImageConfig> parse_config(const std::string& json);

// Returns an image config's rootfs.diff_ids (parse_config's).
Result<std::vector<std::string>> parse_config_diff_ids(const std::string& json);

// Returns the encoded file list an image config carries ("" when it has none).
Result<std::string> parse_config_file_list(const std::string& json);

// Returns the current UTC time (REGCACHE_NOW when set) in RFC 3339 with nanoseconds.
std::string now_rfc3339();

}  // namespace regcache
