// Deterministic pax tar writer: the same entries with the same contents always give the
// same bytes, so the same files give the same layer digest on any machine.
#pragma once

#include <sys/stat.h>

#include "regcache/util/file_entry.hpp"
#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

struct SparseFile;

class TarWriter {
 public:
  explicit TarWriter(Sink* out) : out_(out) {}
  // Writes one entry; regular files are read from where the walk found them and must
  // still be that file with entry.size bytes and mtime, unwritten while it is read (a
  // swapped, shrunk, grown or rewritten file is an error: "changed while saving"). A
  // sparse file is stored with its holes (GNU sparse format 1.0, archive/sparse.hpp). An
  // empty regular entry with no source_dir is written as an empty file (a whiteout).
  Status add(const FileEntry& entry);
  // Writes the two zero blocks that end the archive.
  Status close();
  // Writes the headers add() would write for a regular file of entry.size bytes stored
  // whole (no sparse map); the caller writes its content, then end_regular() pads it. A
  // restore hashes what a save of the file it writes would produce this way.
  Status begin_regular(const FileEntry& entry);
  Status end_regular(uint64_t size) { return pad(size); }

 private:
  Status write_header(const FileEntry& entry, char typeflag, uint64_t size);
  Status write_pax(const FileEntry& entry, uint64_t size, const SparseFile* sparse);
  Status add_regular(const FileEntry& entry);
  Result<int> open_walked(const FileEntry& entry, const std::string& source);
  Status check_unchanged(int fd, const std::string& source) const;  // since open_walked
  Status copy_range(int fd, uint64_t offset, uint64_t length, const std::string& source);
  Status pad(uint64_t size);
  Sink* out_;
  struct stat opened_ {};  // the file open_walked opened last, as it found it
};

}  // namespace regcache
