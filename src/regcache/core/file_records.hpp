// Records, kept on this machine between saves, of each regular file's stat stamp (device,
// inode, size, mode, mtime and ctime to the nanosecond) beside the print of its tar entry:
// a later save takes the print of a file whose stamp has not changed instead of reading
// it, as git's index and restic's parent snapshot do. One record per walked root, in a
// directory beside the restore state file (docs/format.md, "File records").
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "regcache/format/fingerprint.hpp"
#include "regcache/util/clock.hpp"
#include "regcache/util/file_entry.hpp"

namespace regcache {

// Where records live, and how recent a change may be for its file to be recorded.
struct FileRecordPlace {
  std::string dir;  // "": no records are read or written
  // A file changed less than this before the walk is not recorded: a second change within
  // the same clock tick (or a file server's clock a little behind) could keep its stamp.
  std::chrono::nanoseconds racy_margin = std::chrono::seconds(2);
};

// Fills in prints[i] and sets known[i] for each regular entry whose stamp equals the one
// recorded for its path; returns how many. Unreadable or foreign records count as none.
size_t recall_prints(const FileRecordPlace& place, const std::vector<FileEntry>& entries,
                     std::vector<EntryPrint>& prints, std::vector<char>& known);

// Replaces the records of the walked roots with the stamp and print of every regular entry
// whose last change (ctime and mtime) came before `walked_at - racy_margin`; failures
// only log. Keeps the records of the most recently saved roots (kMaxFileRecords).
void record_prints(const FileRecordPlace& place, const std::vector<FileEntry>& entries,
                   const std::vector<EntryPrint>& prints, TimePoint walked_at);

inline constexpr size_t kMaxFileRecords = 64;

}  // namespace regcache
