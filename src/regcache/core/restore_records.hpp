// What a restore leaves for the next save on this machine: for each regular file it
// writes whole, the print a save would compute for it (its tar entry as the save's writer
// would make it from the file as written) and its stat, kept as file records
// (core/file_records.hpp) once the files are in place.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "regcache/archive/extractor.hpp"
#include "regcache/core/file_records.hpp"

namespace regcache {

// As many files as a record keeps for a root (core/file_records.cpp): a restore of an
// entry holding more gathers none, and past it gathering stops and nothing is recorded
// (about 50 MiB kept at most).
inline constexpr size_t kMaxRestoredFiles = 200'000;

// The files a restore wrote, gathered from every layer's extraction (thread-safe).
class RestoredPrints {
 public:
  // Makes room for `files` files up front (the entry says how many it holds).
  void reserve(size_t files);
  // Adds one file written whole.
  void add(FileEntry e, EntryPrint print);
  // Notes a path that a hard link of the entry names: linking moves its ctime, or on a
  // coarse clock may not, so it is never recorded.
  void linked(std::string path);
  // Records the files under each root placed at `dest` (archive path `archive`), taking
  // `started` as when the restore began; failures only log.
  void record(const FileRecordPlace& place,
              const std::vector<std::pair<std::string, std::string>>& placed_roots,
              TimePoint started);

 private:
  std::mutex mu_;
  std::vector<std::pair<FileEntry, EntryPrint>> files_;
  std::vector<std::string> linked_;
  bool too_many_ = false;
};

// Passes a layer's entries to an extractor and, for each regular file it writes whole
// with the mode and mtime the entry states (after `mode_mask`), hashes the tar entry a
// save of that file would produce and adds it to `out`.
class PrintingHandler : public TarEntryHandler {
 public:
  PrintingHandler(Extractor& x, uint32_t mode_mask, RestoredPrints& out);
  ~PrintingHandler() override;
  Status begin(const TarHeader& header) override;
  Status data(const char* bytes, size_t size) override;
  Status hole(uint64_t size) override;
  Status end() override;

 private:
  Extractor& x_;
  uint32_t mode_mask_;
  RestoredPrints& out_;
  struct Hashing;
  std::unique_ptr<Hashing> hashing_;  // of the current file, when it is written whole
};

}  // namespace regcache
