// The lookup index (format/entry_index_format.hpp) as one command uses it: read once in the
// background, told what the command learned (manifests it read, the entry it saved, the
// tag list), and written back beside the command's other requests. Best effort: an index
// that cannot be read reads as empty, one that cannot be written stays as it was (both
// said with -v); lookups stay correct either way, only slower.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "regcache/format/entry_format.hpp"
#include "regcache/format/entry_index_format.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

// Returns the row that the manifest `digest` (parsed as info) gives its tag.
IndexRow index_row(const std::string& digest, const EntryInfo& info);

// Whether a command expects to write the index (a save always does).
enum class IndexWrite { unlikely, expected };

class LookupIndex {
 public:
  // For store, which must outlive it; a store whose properties keep no index gets no request.
  explicit LookupIndex(Store& store);
  // Waits for a read or a write in flight.
  ~LookupIndex();
  LookupIndex(const LookupIndex&) = delete;
  LookupIndex& operator=(const LookupIndex&) = delete;

  // Returns whether the store keeps an index.
  bool kept() const { return kept_; }
  // Starts reading the index in the background; later calls do nothing. A command that
  // will write it says so, and a missing index then gets its empty config blob at once.
  void start_read(IndexWrite intent = IndexWrite::unlikely);
  // Returns the rows (reading them first if needed); empty without an index. A snapshot:
  // a later write does not change it, and it is not copied.
  std::shared_ptr<const IndexRows> rows();
  // Notes a row learned from a manifest read or written under tag.
  void learned(const std::string& tag, IndexRow row);
  // Notes the repository's whole tag list: rows of other tags may be dropped.
  void tags_listed(const std::vector<std::string>& tags);
  // Starts writing the index when the command learned something new or the index holds
  // many rows of deleted tags; returns at once (a write in flight is waited for first).
  void write_in_background();

 private:
  void read(IndexWrite intent);
  void write();
  // Under mu_: whether what was learned changes the rows; whether, unchanged, they are due
  // for compaction (write()'s rule).
  bool changes_rows() const;
  bool needs_compaction() const;
  Store& store_;
  const bool kept_;
  std::mutex mu_;
  std::once_flag read_once_;
  std::shared_future<void> read_done_;
  std::future<void> write_done_;
  // What was read (or last written).
  bool readable_ = true;                    // false: it could not be read, so it is not written
  bool exists_ = false;                     // a manifest is under the tag (parsed or not)
  bool empty_blob_ready_ = false;           // the empty config blob was sent or found
  std::shared_ptr<const IndexRows> rows_ =  // blob rows overlaid with inline rows
      std::make_shared<const IndexRows>();
  IndexRows blob_rows_;  // the rows in the blob
  std::optional<Descriptor> rows_blob_;
  // What this command learned.
  IndexRows learned_;
  std::optional<std::set<std::string>> tags_;
};

}  // namespace regcache
