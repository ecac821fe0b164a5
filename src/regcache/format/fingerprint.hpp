// Pack fingerprints: XXH3-128 of the exact tar bytes a pack's layer holds, so a save can
// tell that a pack equals a layer of its base entry without compressing or uploading it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "regcache/format/pack_plan.hpp"
#include "regcache/util/file_entry.hpp"
#include "regcache/util/result.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

// One tar entry's bytes (header, content, padding): their XXH3-64 and their count.
struct EntryPrint {
  uint64_t hash = 0;
  uint64_t bytes = 0;
};

// Hashes each entry's bytes with XXH3-64 on their way to another sink (which may be null),
// take_entry() marking where entries end, and the entries' prints with XXH3-128.
class FingerprintSink : public Sink {
 public:
  explicit FingerprintSink(Sink* next);
  ~FingerprintSink() override;
  Status write(const char* data, size_t size) override;
  Status finish() override;
  // Returns "xxh3-128-entries:<hex>" of everything written (the prints of the entries
  // taken, then of the bytes after the last one).
  std::string fingerprint() const;
  // Returns the print of the bytes written since the previous call (or the start).
  EntryPrint take_entry();
  // Counts an entry whose print is known without writing its bytes (none may be pending).
  void add_entry(const EntryPrint& print);

 private:
  Sink* next_;
  struct State;
  std::unique_ptr<State> state_;
};

// Returns the fingerprint of a pack by producing its tar (uncompressed, not stored); with
// `prints` (one per entry of `entries`), fills in the print of each entry of the pack. With
// `known` as well, an entry marked there is not read: its print is taken from `prints`.
Result<std::string> pack_fingerprint(const std::vector<FileEntry>& entries, const Pack& pack,
                                     std::vector<EntryPrint>* prints = nullptr,
                                     const std::vector<char>* known = nullptr);

}  // namespace regcache
