// One file-system object as regcache stores it: what a walk produces, what a tar holds.
#pragma once

#include <cstdint>
#include <string>

namespace regcache {

enum class FileType { regular, directory, symlink, hardlink };

struct FileEntry {
  std::string path;    // archive path, '/'-separated, no leading '/', no trailing '/'
  std::string source;  // where the bytes are on disk (save side only)
  FileType type = FileType::regular;
  uint32_t mode = 0644;     // permission bits (07777 mask)
  uint64_t size = 0;        // content size for regular files, 0 otherwise
  int64_t mtime_sec = 0;    // modification time, seconds since the epoch
  uint32_t mtime_nsec = 0;  // and nanoseconds
  std::string link_target;  // symlink target, or the archive path a hard link points at
  uint64_t dev = 0;         // device and inode, to find hard-link groups (save side only)
  uint64_t ino = 0;
  uint32_t nlink = 1;
};

}  // namespace regcache
