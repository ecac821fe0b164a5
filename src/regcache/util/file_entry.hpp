// One file-system object as regcache stores it: what a walk produces, what a tar holds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace regcache {

// An archive path holds at most this many components: saving and restoring hold a
// descriptor and a stack frame per level, and each level of a path two bytes of a header
// that compresses to nothing (a hostile entry's million-level path made a million
// directories). Deeper trees are refused on both sides.
inline constexpr size_t kMaxPathDepth = 4096;

enum class FileType : uint8_t { regular, directory, symlink, hardlink };

struct FileEntry {
  std::string path;  // archive path, '/'-separated, no leading '/', no trailing '/'
  // Save side, from a walk: the bytes are at *source_dir + path[archive_root_len:] (one
  // string per walked root instead of one per file: a million files keep 100 MiB less).
  std::shared_ptr<const std::string> source_dir;
  std::string link_target;  // symlink target, or the archive path a hard link points at
  uint64_t size = 0;        // content size for regular files, 0 otherwise
  int64_t mtime_sec = 0;    // modification time, seconds since the epoch
  uint64_t dev = 0;         // device and inode, to find hard-link groups (save side only)
  uint64_t ino = 0;
  int64_t ctime_ns = 0;     // status change time in ns (save side only: core/file_records.hpp)
  uint32_t mtime_nsec = 0;  // the modification time's nanoseconds
  uint32_t mode = 0644;     // permission bits (07777 mask)
  uint32_t archive_root_len = 0;
  uint8_t nlink = 1;  // names of the file, 255 standing for more (an entry takes 136 bytes)
  FileType type = FileType::regular;
};

// Returns where an entry's bytes are on disk.
inline std::string source_of(const FileEntry& e) {
  if (!e.source_dir) return {};
  std::string out = *e.source_dir;
  out.append(std::string_view(e.path).substr(e.archive_root_len));
  return out;
}

}  // namespace regcache
