// Safe extraction of tar entries into staging locations, one per cache root.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "regcache/archive/layer_mask.hpp"
#include "regcache/archive/tar_reader.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

// Symlinks pointing outside the cached roots: recreated as saved (allow, the default) or
// refused (--no-external-symlinks). Either way no symlink is ever followed while extracting.
enum class ExternalSymlinks { allow, refuse };

// Where entries under one archive prefix go: `prefix` itself becomes `staging_name`
// inside the directory `parent_fd`; everything below it goes below that.
enum class RootShape { tree, regular_file };

struct ExtractRoot {
  std::string prefix;        // e.g. "ws/target", or "ws/target/debug" for part of a root
  int parent_fd = -1;        // open directory that holds the staging location
  std::string staging_name;  // e.g. ".regcache-stage-1a2b"
  // The cache root holding prefix, when prefix is only part of it ("" when it is the
  // root): a hard link to elsewhere in the root cannot be made, and is skipped.
  std::string scope;
  TempHolds* holds = nullptr;  // keeps the staging location held once made (may be null)
  // Why nothing can be written under prefix (its directory cannot be made), when so: the
  // first entry under it fails with this, and an entry holding none is not affected.
  std::string unwritable;
  // What prefix may be: a tree, or only a regular file (the content of a hard link that
  // a partial restore takes from its target; a directory there would be copied whole).
  RootShape shape = RootShape::tree;
};

// Metadata of directories, applied after every layer has been extracted.
struct DirFixup {
  int parent_fd;
  std::string rel;  // relative to the staging location ("" for the root itself)
  std::string staging_name;
  uint32_t mode;
  int64_t mtime_sec;
  uint32_t mtime_nsec;
};

// Shared, thread-safe list of directory fixups collected by several extractors.
class DirFixups {
 public:
  void add(DirFixup f);
  // Applies modes and mtimes, deepest directories first.
  Status apply();

 private:
  std::mutex mu_;
  std::vector<DirFixup> list_;
};

// Extracts entries under the given roots, refusing anything a cache must never do:
// unsafe paths, writing through symlinks, links leaving the root, device nodes, FIFOs,
// setuid/setgid bits, duplicates. Entries under no root are skipped.
class Extractor : public TarEntryHandler {
 public:
  Extractor(std::vector<ExtractRoot> roots, ExternalSymlinks symlinks, DirFixups* fixups);
  ~Extractor() override;
  Status begin(const TarHeader& header) override;
  Status data(const char* bytes, size_t size) override;
  Status hole(uint64_t size) override;  // left unwritten: the file keeps its hole
  Status end() override;
  // Refuses a file larger than `bytes` (the size the entry declares for all its files).
  void limit_file_size(uint64_t bytes) { max_file_size_ = bytes; }
  // Clears these permission bits of every file and directory (the umask's group and other
  // write bits by default at restore; none with --same-permissions).
  void mask_modes(uint32_t bits) { mode_mask_ = bits; }
  // Makes this the extractor of layer `layer` of a stack: entries the layers above hide are
  // skipped, and in a delta layer whiteouts are markers, not files.
  void stack(const LayerMask* mask, size_t layer, LayerRole role) {
    mask_ = mask;
    layer_ = layer;
    role_ = role;
  }
  // Number of regular files and bytes written so far.
  uint64_t files() const { return files_; }
  uint64_t bytes() const { return bytes_; }
  // A hard link skipped because its target lies in the root outside the restored part.
  struct SkippedLink {
    std::string link;    // archive path of the link
    std::string target;  // archive path of the file it links to
  };
  // Returns the hard links skipped so far.
  const std::vector<SkippedLink>& skipped_links() const { return skipped_links_; }
  // Returns true between begin() and end() of a regular file being written.
  bool writing_file() const { return file_fd_ >= 0; }
  // A regular file written whole (no hole): its archive path and its stat once complete.
  struct WrittenFile {
    std::string path;
    struct stat st;
  };
  // Makes end() stat each regular file written whole, for last_written().
  void keep_written_stats() { keep_stats_ = true; }
  // Returns the file the last end() completed, when it kept its stat.
  const std::optional<WrittenFile>& last_written() const { return last_written_; }

 private:
  Result<int> open_dir(const ExtractRoot& root, const std::string& rel_dir);
  Status make_entry(const ExtractRoot& root, const std::string& rel, const TarHeader& h);
  Status check_linked_symlink(int dir_fd, const std::string& name, const std::string& rel,
                              const std::string& shown) const;  // hostile when it leaves
  std::vector<ExtractRoot> roots_;
  ExternalSymlinks symlinks_;
  DirFixups* fixups_;
  int file_fd_ = -1;
  std::string file_path_;
  TarHeader current_;
  void close_chain(size_t keep);  // closes the chain's directories past the first `keep`
  // The directories of the last path opened: the staging directory, then one per
  // component, each opened from the one before (O_NOFOLLOW).
  std::vector<std::pair<std::string, int>> chain_;
  int chain_parent_ = -1;
  int tail_fd_ = -1;       // a directory below the chain's depth limit, the last one returned
  std::string tail_path_;  // tail_fd_'s path below the root: a deeper next path starts there
  uint64_t files_ = 0, bytes_ = 0;
  uint64_t max_file_size_ = UINT64_MAX;
  uint32_t mode_mask_ = 0;
  std::vector<SkippedLink> skipped_links_;
  uint64_t skipped_bytes_ = 0;  // of the names in skipped_links_, at most kMaxSkippedLinkBytes
  static constexpr uint64_t kMaxSkippedLinkBytes = 64ull << 20;
  const LayerMask* mask_ = nullptr;
  size_t layer_ = 0;
  LayerRole role_ = LayerRole::base;
  bool merged_dir_ = false;  // the current directory's metadata is the upper layer's
  bool keep_stats_ = false;
  bool holed_ = false;  // the current file has a hole
  std::optional<WrittenFile> last_written_;
};

}  // namespace regcache
