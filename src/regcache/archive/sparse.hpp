// Sparse files in tar: a file with holes is stored as its data segments after a map of
// where they go (GNU sparse format 1.0, in pax headers: GNU.sparse.major=1, minor=0,
// name, realsize; the entry's data opens with the map in decimal, padded to 512 bytes),
// the format GNU tar, libarchive and Go's archive/tar read.
//
// The map is a function of the content alone: a hole is a run of all-zero 4 KiB blocks
// (aligned to the file's start), whether or not the filesystem allocated them, so the
// same file gives the same bytes on any filesystem. Only files the filesystem reports
// as holed (fewer allocated blocks than their size, a hole found by SEEK_HOLE) are
// stored this way; reading skips the filesystem's holes instead of reading their zeros.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regcache/util/result.hpp"

namespace regcache {

inline constexpr uint64_t kSparseBlock = 4096;
inline constexpr uint64_t kSparseMinSize = 64 << 10;  // smaller files are stored whole
// What a reader takes of a map: a file whose map would be larger is stored whole.
inline constexpr size_t kMaxSparseSegments = 1 << 16;
inline constexpr size_t kMaxSparseMapBytes = 1 << 20;

struct SparseSegment {
  uint64_t offset = 0, length = 0;
};

struct SparseFile {
  uint64_t size = 0;                    // the file's size (holes included)
  std::vector<SparseSegment> segments;  // data, in order; may end with {size, 0}
  // Returns the map as stored at the start of the entry's data, padded to 512 bytes.
  std::string map_text() const;
  // Returns the bytes the entry's data takes in the archive: map plus segments.
  uint64_t stored_size() const;
};

// Returns where the data of the open file (`size` bytes) lies, or nullopt when it has no
// hole worth keeping or its map would pass the reader's bounds (it is then stored whole).
Result<std::optional<SparseFile>> find_sparse_data(int fd, uint64_t size,
                                                   const std::string& source);

// Parses a map from the start of an entry's data. Returns nullopt while `text` does not
// yet hold the whole map; else the file and the map's padded length. Errors: malformed,
// unsorted or overlapping segments, segments past `realsize`, more than `max_segments`.
Result<std::optional<std::pair<SparseFile, size_t>>> parse_sparse_map(std::string_view text,
                                                                      uint64_t realsize,
                                                                      size_t max_segments);

}  // namespace regcache
