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

// Hashes bytes with XXH3-128 on their way to another sink (which may be null).
class FingerprintSink : public Sink {
 public:
  explicit FingerprintSink(Sink* next);
  ~FingerprintSink() override;
  Status write(const char* data, size_t size) override;
  Status finish() override;
  // Returns "xxh3-128:<hex>" of everything written.
  std::string fingerprint() const;

 private:
  Sink* next_;
  struct State;
  std::unique_ptr<State> state_;
};

// Returns the fingerprint of a pack by producing its tar (uncompressed, not stored).
Result<std::string> pack_fingerprint(const std::vector<FileEntry>& entries, const Pack& pack);

}  // namespace regcache
