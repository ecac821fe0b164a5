// A fingerprint is XXH3-128 over the prints of a pack's tar entries (each entry's XXH3-64
// and length, the closing blocks last), which the deterministic tar writer makes a pure
// function of the files' paths, types, modes, sizes, nanosecond mtimes, link targets and
// contents. Equal fingerprints therefore mean byte-identical layers before compression.
// Every byte is hashed once: the entries' prints serve the file list too (hashing the tar
// whole as well cost the unchanged node save a tenth more time). XXH3 rather than SHA-256 because
// it runs over every cached byte on every save and only has to tell "same" from "changed" between
// two saves of one cache (a forged match could only make a save reuse a layer of its own base
// entry, which restore verifies and treats as untrusted input anyway). A cold save computes it on
// the fly while compressing, so it costs no extra read.
#include "regcache/format/fingerprint.hpp"

#include <xxhash.h>

#include <cstdio>

#include "regcache/archive/tar_writer.hpp"

namespace regcache {

struct FingerprintSink::State {
  XXH3_state_t* xxh = XXH3_createState();
  XXH3_state_t* entry = XXH3_createState();
  uint64_t entry_bytes = 0;
  ~State() {
    XXH3_freeState(xxh);
    XXH3_freeState(entry);
  }
};

FingerprintSink::FingerprintSink(Sink* next) : next_(next), state_(std::make_unique<State>()) {
  XXH3_128bits_reset(state_->xxh);
  XXH3_64bits_reset(state_->entry);
}

FingerprintSink::~FingerprintSink() = default;

namespace {

// Adds an entry's print to the pack's state, as 16 little-endian bytes.
void add_print(XXH3_state_t* pack, const EntryPrint& p) {
  unsigned char bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(p.hash >> (8 * i));
    bytes[8 + i] = static_cast<unsigned char>(p.bytes >> (8 * i));
  }
  XXH3_128bits_update(pack, bytes, sizeof bytes);
}

}  // namespace

Status FingerprintSink::write(const char* data, size_t size) {
  XXH3_64bits_update(state_->entry, data, size);
  state_->entry_bytes += size;
  return next_ ? next_->write(data, size) : Status{};
}

Status FingerprintSink::finish() {
  return next_ ? next_->finish() : Status{};
}

std::string FingerprintSink::fingerprint() const {
  XXH3_state_t* pack = XXH3_createState();
  XXH3_copyState(pack, state_->xxh);
  if (state_->entry_bytes > 0)  // what follows the last entry: the closing blocks
    add_print(pack, {XXH3_64bits_digest(state_->entry), state_->entry_bytes});
  XXH128_hash_t h = XXH3_128bits_digest(pack);
  XXH3_freeState(pack);
  char hex[80];
  std::snprintf(hex, sizeof hex, "xxh3-128-entries:%016llx%016llx",
                static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

EntryPrint FingerprintSink::take_entry() {
  EntryPrint p{XXH3_64bits_digest(state_->entry), state_->entry_bytes};
  add_print(state_->xxh, p);
  XXH3_64bits_reset(state_->entry);
  state_->entry_bytes = 0;
  return p;
}

void FingerprintSink::add_entry(const EntryPrint& print) {
  add_print(state_->xxh, print);
}

Result<std::string> pack_fingerprint(const std::vector<FileEntry>& entries, const Pack& pack,
                                     std::vector<EntryPrint>* prints,
                                     const std::vector<char>* known) {
  FingerprintSink sink(nullptr);
  TarWriter tar(&sink);
  for (size_t i : pack.entries) {
    if (prints && known && (*known)[i]) {
      sink.add_entry((*prints)[i]);
      continue;
    }
    RC_CHECK(tar.add(entries[i]));
    EntryPrint p = sink.take_entry();
    if (prints) (*prints)[i] = p;
  }
  RC_CHECK(tar.close());
  return sink.fingerprint();
}

}  // namespace regcache
