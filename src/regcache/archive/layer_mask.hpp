// What the upper layers of an entry hide from the layers below them: OCI whiteouts
// (".wh.NAME"), opaque directories (".wh..wh..opq") and paths an upper layer replaces. It is
// learned from the headers of the delta layers before any layer is extracted, so every
// layer writes only what stays visible and no file is written twice.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "regcache/archive/tar_reader.hpp"
#include "regcache/util/file_entry.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

// A layer's place in the stack: a base pack (disjoint from the other bases; a ".wh." name
// there is an ordinary file) or a delta on top of them (its ".wh." names are whiteouts).
enum class LayerRole { base, delta };

// What a lower layer's entry is, given the layers above it.
enum class Visibility {
  shown,       // written
  hidden,      // an upper layer replaces, removes or hides it: skipped
  merged_dir,  // a directory an upper layer states too: made, its metadata left to the upper
};

// A whiteout named by an archive path: the path it removes, or the directory it makes
// opaque. Returns nullopt when the name is not a whiteout, and an error when it is a
// malformed one (".wh." alone, ".wh..", an unknown ".wh..wh." marker).
struct Whiteout {
  enum class Kind { remove, opaque } kind;
  std::string target;  // the removed path, or the opaque directory ("" for the top)
};
Result<std::optional<Whiteout>> whiteout_of(const std::string& normalized_path);

class LayerMask {
 public:
  LayerMask();
  ~LayerMask();
  LayerMask(LayerMask&&) noexcept;
  LayerMask& operator=(LayerMask&&) noexcept;

  // Adds what layer `layer` holds (from a LayerScan); layers may be added in any order.
  // Fails (hostile) past kMaxPaths paths in all, or on a path deeper than kMaxDepth.
  Status add(size_t layer, const std::vector<std::pair<std::string, int>>& marks);
  // Tells what becomes of the entry at `path` (normalized) of layer `layer`.
  Visibility visibility(size_t layer, const std::string& path, bool is_dir) const;
  // Returns true when layer `layer` itself holds a non-directory at `path`.
  bool holds_file(size_t layer, const std::string& path) const;
  bool empty() const { return paths_ == 0; }

  // Kinds of marks; public for LayerScan.
  enum Kind : int { file = 1, dir = 2, implied_dir = 4, removed = 8, opaque = 16 };
  static constexpr size_t kMaxPaths = 4'000'000;      // paths and the directories above them
  static constexpr size_t kMaxDepth = kMaxPathDepth;  // components in a path, as everywhere

 private:
  // A tree of path components: what a path costs is its own length, whatever its depth.
  struct Node;
  const Node* find(const std::string& path) const;
  std::unique_ptr<Node> root_;
  size_t paths_ = 0;
};

// A tar handler that collects a delta layer's marks (for LayerMask::add) without writing.
class LayerScan : public TarEntryHandler {
 public:
  // What the scans of one entry's deltas may hold together: LayerMask's bounds on paths and
  // depth, and kMaxPathBytes of path text.
  struct Budget {
    std::atomic<uint64_t> paths{0}, bytes{0};
  };
  static constexpr uint64_t kMaxPathBytes = 256ull << 20;
  LayerScan(std::vector<std::string> roots, Budget* budget)
      : roots_(std::move(roots)), budget_(budget) {}
  Status begin(const TarHeader& header) override;
  Status data(const char*, size_t) override { return {}; }
  Status hole(uint64_t) override { return {}; }  // never as zeros: a hole may be 2^63 bytes
  Status end() override { return {}; }
  // Returns (path, LayerMask::Kind bits) for every path the layer states or removes.
  const std::vector<std::pair<std::string, int>>& marks() const { return marks_; }

 private:
  Status count(const std::string& path);
  std::vector<std::string> roots_;
  Budget* budget_;
  std::vector<std::pair<std::string, int>> marks_;
};

}  // namespace regcache
