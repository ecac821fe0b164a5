// The one storage interface: a repository of blobs and tagged manifests. Implemented by
// the local OCI image layout and by the registry client; the rest of regcache does not
// know which it has.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regcache/oci/descriptor.hpp"
#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

// Bytes to upload: a file on disk, or a small in-memory buffer when file is empty.
struct BlobSource {
  std::string file;
  std::string bytes;
  uint64_t offset = 0;  // with file: where the bytes start
  uint64_t length = 0;  // with file: how many bytes (0: to the end of the file)
};

// When each manifest (by digest) was last restored: digest -> RFC 3339 time.
using UsageTimes = std::map<std::string, std::string>;

// Whether put_manifest checks the blobs a manifest names.
enum class ManifestBlobCheck {
  none,     // the manifest is stored as given (a layout)
  refused,  // a manifest naming a blob the store lacks fails with ErrorKind::not_found
};

// How many connections a save asks a store to open ahead (Store::warm_up): enough for its
// first requests; its transfers open theirs while packs are compressed. A restore asks
// for one per transfer (core/restore.cpp).
inline constexpr size_t kWarmUpConnections = 4;
// The most connections a command opens ahead (a restore asks for one per transfer; 16 by
// default): a miss opens them too, each with one request.
inline constexpr size_t kMaxWarmUpConnections = 16;

// Whether commands keep a lookup index (core/entry_index.hpp) in the store: worth it
// where reading a manifest costs a request, not where it is a local file.
enum class LookupIndexUse { none, kept };

// What a store is and can do, beyond the operations every store has.
struct StoreProperties {
  ManifestBlobCheck manifest_blobs = ManifestBlobCheck::none;
  // "HOST/REPOSITORY" for a registry repository, "" for other stores: which store this is,
  // and where link_blob can mount from (other repositories of the same registry).
  std::string registry_repository;
  LookupIndexUse lookup_index = LookupIndexUse::none;
};

// A store that records restores natively (a local layout, in index.json); others get a
// record kept in a tag (lifecycle/usage_record.hpp).
class UsageRecords {
 public:
  virtual ~UsageRecords() = default;
  // Returns the last use of each manifest that has one.
  virtual Result<UsageTimes> read_uses() = 0;
  // Records that manifest `digest` was restored at `when` (an RFC 3339 time).
  virtual Status record_use(const std::string& digest, const std::string& when) = 0;
};

struct FetchedManifest {
  std::string bytes;
  std::string media_type;
  std::string digest;  // "sha256:..." of bytes, computed locally
};

class Store {
 public:
  virtual ~Store() = default;
  // Returns a description of the store for messages (never holds a credential).
  virtual std::string describe() const = 0;
  // Returns a directory where blobs about to be uploaded may be staged.
  virtual std::string staging_dir() const = 0;
  // Returns true when the blob is present.
  virtual Result<bool> has_blob(const Descriptor& blob) = 0;
  // Streams the blob's bytes into out (unverified: callers verify digest and size).
  virtual Status get_blob(const Descriptor& blob, Sink* out) = 0;
  // Stores a blob whose digest and size are given by blob.
  virtual Status put_blob(const Descriptor& blob, const BlobSource& source) = 0;
  // Makes a blob that `from` holds present here without sending its bytes (a registry's
  // cross-repository mount); returns false when that is not possible.
  virtual Result<bool> link_blob(const Descriptor& blob, const Store& from) {
    (void)from;
    return has_blob(blob);
  }
  // Returns what kind of store this is (see StoreProperties).
  virtual StoreProperties properties() const { return {}; }
  // Returns the manifest a tag or digest names, or nullopt when there is none.
  virtual Result<std::optional<FetchedManifest>> get_manifest(const std::string& reference) = 0;
  // Stores a manifest under a tag and returns its digest; a digest as the tag stores it
  // untagged (for a manifest that another one, tagged later, refers to).
  virtual Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                           const std::string& media_type) = 0;
  // Deletes a manifest by digest (and so every tag pointing at it).
  virtual Status delete_manifest(const std::string& digest) = 0;
  // Lists every tag in the repository.
  virtual Result<std::vector<std::string>> list_tags() = 0;
  // Returns the store's own record of restores, or nullptr when it keeps none.
  virtual UsageRecords* usage() { return nullptr; }
  // Prepares for up to `parallel` requests at once, in the background (a registry opens
  // its connections while the first requests run); returns at once. Best effort.
  virtual void warm_up(size_t parallel) { (void)parallel; }
  // Prepares, in the background, what this command's writes will need (a registry fetches
  // a token that allows pushing), so that they wait on no extra round trip; returns at
  // once. Best effort: a failure shows on the writes.
  virtual void prepare_writes() {}
  // Prepares, in the background, to read the blobs of the manifest that `reference` most
  // likely names (a local tier checks its copies of them); returns at once. Best effort:
  // what is read is decided by the manifest get_manifest returns.
  virtual void prepare_reads(const std::string& reference) { (void)reference; }
  // Told that the blob it served does not match its digest: a store holding its own copy
  // removes that copy if it still does not, so that the next put writes the blob again
  // (a put takes a present blob on its size). Best effort; returns true when it removed one.
  virtual bool drop_damaged(const Descriptor& blob) {
    (void)blob;
    return false;
  }
};

}  // namespace regcache
