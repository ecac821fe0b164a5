// A fingerprint is XXH3-128 over the uncompressed tar of a pack, which the deterministic
// tar writer makes a pure function of the files' paths, types, modes, sizes, nanosecond
// mtimes, link targets and contents. Equal fingerprints therefore mean byte-identical
// layers before compression. XXH3 rather than SHA-256 because it runs over every cached
// byte on every save and only has to tell "same" from "changed" between two saves of one
// cache (a forged match could only make a save reuse a layer of its own base entry, which
// restore verifies and treats as untrusted input anyway). A cold save computes it on the
// fly while compressing, so it costs no extra read.
#include "regcache/format/fingerprint.hpp"

#include <xxhash.h>

#include <cstdio>

#include "regcache/archive/tar_writer.hpp"

namespace regcache {

struct FingerprintSink::State {
  XXH3_state_t* xxh = XXH3_createState();
  ~State() { XXH3_freeState(xxh); }
};

FingerprintSink::FingerprintSink(Sink* next) : next_(next), state_(std::make_unique<State>()) {
  XXH3_128bits_reset(state_->xxh);
}

FingerprintSink::~FingerprintSink() = default;

Status FingerprintSink::write(const char* data, size_t size) {
  XXH3_128bits_update(state_->xxh, data, size);
  return next_ ? next_->write(data, size) : Status{};
}

Status FingerprintSink::finish() {
  return next_ ? next_->finish() : Status{};
}

std::string FingerprintSink::fingerprint() const {
  XXH128_hash_t h = XXH3_128bits_digest(state_->xxh);
  char hex[64];
  std::snprintf(hex, sizeof hex, "xxh3-128:%016llx%016llx",
                static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

Result<std::string> pack_fingerprint(const std::vector<FileEntry>& entries, const Pack& pack) {
  FingerprintSink sink(nullptr);
  TarWriter tar(&sink);
  for (size_t i : pack.entries) RC_CHECK(tar.add(entries[i]));
  RC_CHECK(tar.close());
  return sink.fingerprint();
}

}  // namespace regcache
