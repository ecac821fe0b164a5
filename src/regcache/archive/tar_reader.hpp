// Streaming tar parser (ustar, pax and GNU long names) fed through the Sink interface, so
// it sits at the end of a download → verify → decompress pipeline without buffering.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "regcache/archive/sparse.hpp"

#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

struct TarHeader {
  std::string path;      // as stored (pax/GNU long name applied), not yet validated
  std::string linkpath;  // symlink or hard-link target
  char typeflag = '0';   // raw type: '0' file, '1' hard link, '2' symlink, '5' dir, ...
  uint32_t mode = 0;
  uint64_t size = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  bool sparse = false;  // content arrives as data() and hole() pieces; size is the file's
};

class TarEntryHandler {
 public:
  virtual ~TarEntryHandler() = default;
  // Called for each entry before its data.
  virtual Status begin(const TarHeader& header) = 0;
  // Called with consecutive pieces of the entry's content.
  virtual Status data(const char* bytes, size_t size) = 0;
  // Called for a run of zeros a sparse file does not store (by default: as zeros).
  virtual Status hole(uint64_t size);
  // Called after the last piece of content.
  virtual Status end() = 0;
};

class TarReader : public Sink {
 public:
  explicit TarReader(TarEntryHandler* handler) : handler_(handler) {}
  Status write(const char* data, size_t size) override;
  // Fails when the stream stopped inside an entry.
  Status finish() override;

 private:
  enum class State { header, data, sparse_map, padding, extended, done };
  Status on_header();
  Status on_extended_complete();
  Status apply_pax(const std::string& records);
  Status on_sparse_map();
  bool sparse_map_may_be_whole() const;  // enough lines for the count the map starts with
  Status sparse_data(const char* data, size_t size);
  Status sparse_end();

  TarEntryHandler* handler_;
  State state_ = State::header;
  std::string block_;
  uint64_t left_ = 0;     // bytes left in the current data or extended body
  uint64_t padding_ = 0;  // padding bytes left after the body
  char ext_type_ = 0;     // 'x', 'g', 'L' or 'K' while reading an extended body
  std::string ext_;
  TarHeader pending_;  // overrides collected from pax/GNU headers for the next entry
  bool has_path_ = false, has_link_ = false, has_mtime_ = false, has_size_ = false;
  int zero_blocks_ = 0;
  // GNU sparse 1.0 (archive/sparse.hpp): pax values for the next entry, then its state.
  int sparse_major_ = -1, sparse_minor_ = -1;
  std::optional<uint64_t> sparse_realsize_;
  TarHeader sparse_header_;  // begun once its map is read
  std::string sparse_map_;
  size_t sparse_map_lines_ = 0;  // newlines in sparse_map_
  std::vector<SparseSegment> segments_;
  size_t segment_ = 0;       // the segment data is arriving for
  uint64_t in_segment_ = 0;  // bytes of it delivered
  uint64_t logical_ = 0;     // bytes of the file delivered, holes included
};

}  // namespace regcache
