// Small filesystem helpers that report failures as values naming the path.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "regcache/util/fd.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

// Reads fd to its end, handing each chunk read to `chunk`, whose error stops the read;
// `shown` names the file in a read error.
Status read_chunks(int fd, const std::string& shown,
                   const std::function<Status(const char* data, size_t size)>& chunk);

// Reads a whole (small) file into memory.
Result<std::string> read_file(const std::string& path);

// Writes data to path via a temporary file in the same directory, fsync (unless
// unsynced) and rename (mode 0666 less the umask, as any new file). The
// temporary is named kAtomicTempPrefix + "<pid>-…", so remove_stale() can clear it away
// after a killed run.
// Whether an atomic write waits for the data to reach the disk before it renames.
enum class Durability { synced, unsynced };
Status write_file_atomic(const std::string& path, std::string_view data,
                         Durability durability = Durability::synced);
inline constexpr const char* kAtomicTempPrefix = ".regcache-tmp-";
// Names a restore's staging location (beside or inside a destination) and an import's.
inline constexpr const char* kStagePrefix = ".regcache-stage-";

// Returns the process's umask (read once, at the first call).
unsigned process_umask();

// Reads the regular file `name` in the directory dirfd, never through a symlink and never
// from a FIFO or device (which could hang or lie); at most `max` bytes. `shown` names it.
Result<std::string> read_file_at(int dirfd, const std::string& name, const std::string& shown,
                                 size_t max = SIZE_MAX);

// Reads the target of the symlink `name` in dirfd whole, whatever its st_size says (0 on
// /proc; a link replaced meanwhile may be longer). `shown` names it in errors.
Result<std::string> read_link_at(int dirfd, const std::string& name, const std::string& shown);

// write_file_atomic relative to a directory descriptor: a temporary created with O_EXCL and
// O_NOFOLLOW beside `name`, synced, then renamed onto it.
Status write_file_atomic_at(int dirfd, const std::string& name, std::string_view data,
                            const std::string& shown);

// Creates a directory and its missing parents (mode 0755).
Status make_dirs(const std::string& path);

// Removes a file or a directory tree; a missing path is not an error.
Status remove_tree(const std::string& path);

// Returns the non-empty components of a '/'-separated path ("/a//b/" gives a, b).
std::vector<std::string> path_components(std::string_view path);

// Opens path as ::open does (symlinks in its directories followed), also when it is longer
// than PATH_MAX: then its directories are opened in pieces shorter than that.
int open_path(const std::string& path, int flags);

// Returns the names in an open directory (not "." and ".."), reading a duplicate of dirfd.
std::vector<std::string> list_dir(int dirfd);

// Opens the directory `name` in dirfd for reading, never through a symlink (no descriptor on
// failure, errno set).
UniqueFd open_dir_at(int dirfd, const std::string& name);

// Returns true when `name` in the directory dirfd is a directory that holds nothing (false
// when it holds something, is not a directory, or cannot be opened).
bool is_empty_dir_at(int dirfd, const std::string& name);

// Returns true when `name` in the directory dirfd (never followed) is the root of a mount: another
// file system, or a bind mount of the same one (told by the kernel since Linux 5.8).
bool is_mount_root_at(int dirfd, const std::string& name);

// Returns 0 when this process may create and remove entries in the open directory fd, or owns it
// and make_dir_writable would let it (a Go module cache's 0555); else the errno that says why not.
int dir_write_error(int fd);

// Gives the open directory fd its owner's read, write and search bits when this process owns it
// and one is missing; returns the mode it had (to put back) when it changed it.
std::optional<mode_t> make_dir_writable(int fd);

// Removes `name` in the directory dirfd, a whole tree when it is a directory, never following
// a symlink and never reaching into a mount (refused, ErrorKind::unsupported, before anything
// in that mount is touched); a missing name is not an error. `shown` names it in errors.
Status remove_tree_at(int dirfd, const std::string& name, const std::string& shown);

// Returns a random lowercase hex string of n characters (for unique temporary names).
std::string random_hex(size_t n);

// Returns "<what> <path>: <strerror(err)>" for error messages.
std::string errno_message(std::string_view what, const std::string& path, int err);

// Maps an errno value to an ErrorKind and builds the error.
Error errno_error(std::string_view what, const std::string& path, int err);

}  // namespace regcache
