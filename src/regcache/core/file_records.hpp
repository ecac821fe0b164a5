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
  // A restore's ctimes are its own, made just now: it returns only once the clock is this
  // far past the newest it recorded, so that no later step's change shares its clock tick
  // (the kernel's file times advance by a tick of at most 10 ms).
  std::chrono::nanoseconds racy_tick = std::chrono::milliseconds(10);
};

// Fills in prints[i] and sets known[i] for each regular entry whose stamp equals the one
// recorded for its path; returns how many. Unreadable or foreign records count as none.
size_t recall_prints(const FileRecordPlace& place, const std::vector<FileEntry>& entries,
                     std::vector<EntryPrint>& prints, std::vector<char>& known);

// Who learnt the stamps: a save that walked the files, or a restore that wrote them (and
// so made their ctime itself, just now).
enum class RecordedBy { save, restore };

// Replaces the records of the entries' roots with the stamp and print of every regular
// entry (in path order) whose mtime, and for a save its ctime too, came before
// `since - racy_margin` (`since`: when the walk or the restore began), for a restore with
// a ctime that has nanoseconds (whole seconds mean a file system whose tick is a second),
// and of every entry
// marked in `carried` (its print was taken from a record: its row stays as it was);
// failures only log. Keeps the records used or written last (kMaxFileRecords).
void record_prints(const FileRecordPlace& place, const std::vector<FileEntry>& entries,
                   const std::vector<EntryPrint>& prints, TimePoint since,
                   RecordedBy by = RecordedBy::save, const std::vector<char>* carried = nullptr);

inline constexpr size_t kMaxFileRecords = 64;

}  // namespace regcache
