// Deterministic pax tar writer: the same entries with the same contents always give the
// same bytes, so the same files give the same layer digest on any machine.
#pragma once

#include "regcache/util/file_entry.hpp"
#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

class TarWriter {
 public:
  explicit TarWriter(Sink* out) : out_(out) {}
  // Writes one entry; regular files are read from entry.source and must still have
  // entry.size bytes (a file that changed size while being saved is an error).
  Status add(const FileEntry& entry);
  // Writes the two zero blocks that end the archive.
  Status close();

 private:
  Status write_header(const FileEntry& entry, char typeflag, uint64_t size);
  Status write_pax(const FileEntry& entry, uint64_t size);
  Status copy_content(const FileEntry& entry);
  Status pad(uint64_t size);
  Sink* out_;
};

}  // namespace regcache
