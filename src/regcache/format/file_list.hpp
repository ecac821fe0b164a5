// The list of an entry's files that its config carries: path, print and tar size of every
// entry of the tree, so that the next save can tell which files changed and stack a delta
// layer holding only those (docs/format.md, "Delta layers").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "regcache/util/result.hpp"

namespace regcache {

struct FileRecord {
  std::string path;        // archive path
  uint64_t hash = 0;       // XXH3-64 of the entry's tar bytes (format/fingerprint.hpp)
  uint64_t tar_bytes = 0;  // how many bytes the entry takes in a tar
};

// A config's list holds at least this many paths: records took 18-24 bytes a path in the
// trees measured (docs/format.md), against a config's 4 MiB. Past it, a list may not fit.
inline constexpr size_t kListedPathsAtLeast = 150'000;

// Writes records (added in path order) as zstd-compressed text, then base64, holding only
// the compressed bytes; past `max_bytes` of base64 it gives up (finish() returns "").
class FileListWriter {
 public:
  explicit FileListWriter(uint64_t max_bytes);
  ~FileListWriter();
  void add(std::string_view path, uint64_t hash, uint64_t tar_bytes);
  // Returns the encoded list, or "" when it grew past max_bytes.
  std::string finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Returns the records (sorted by path) encoded as FileListWriter writes them.
std::string encode_file_list(const std::vector<FileRecord>& records);

// Reads what encode_file_list wrote; an error names what is malformed. Refuses lists that
// decompress beyond 512 MiB, paths that are not sorted and unique, and unsafe paths.
Result<std::vector<FileRecord>> decode_file_list(std::string_view encoded);

}  // namespace regcache
