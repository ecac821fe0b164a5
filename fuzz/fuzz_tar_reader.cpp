// Fuzz target for the streaming tar reader: any byte string, fed whole and then in pieces
// whose sizes come from the input, must give the same entries and the same outcome (the
// push parser may not depend on where a download's chunks happen to end), and every entry
// with content must receive exactly as many bytes as its header declares.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "regcache/archive/tar_reader.hpp"

using namespace regcache;

namespace {

// Records every callback as text and checks the begin/data/end protocol.
class Recorder : public TarEntryHandler {
 public:
  Status begin(const TarHeader& h) override {
    if (in_entry_) std::abort();  // begin without end
    in_entry_ = true;
    has_data_ = h.typeflag != '1' && h.typeflag != '2' && h.typeflag != '5';
    expected_ = has_data_ ? h.size : 0;
    received_ = 0;
    log_ += "B" + std::string(1, h.typeflag) + h.path + "\n" + h.linkpath + "\n" +
            std::to_string(h.mode) + " " + std::to_string(h.size) + " " +
            std::to_string(h.mtime_sec) + "." + std::to_string(h.mtime_nsec) + "\n";
    // Refuse some entries, as the extractor does, so error paths run too.
    if (h.path == "refuse") return make_error(ErrorKind::hostile, "refused");
    return {};
  }
  Status data(const char* bytes, size_t size) override {
    if (!in_entry_ || !has_data_ || size == 0) std::abort();
    received_ += size;
    if (received_ > expected_) std::abort();  // more content than the header said
    for (size_t i = 0; i < size; ++i) hash_ = (hash_ ^ static_cast<unsigned char>(bytes[i])) * 31;
    return {};
  }
  Status end() override {
    if (!in_entry_ || received_ != expected_) std::abort();  // short or unexpected end
    in_entry_ = false;
    log_ += "E" + std::to_string(hash_) + "\n";
    return {};
  }
  std::string log_;

 private:
  bool in_entry_ = false, has_data_ = false;
  uint64_t expected_ = 0, received_ = 0, hash_ = 0;
};

// Runs the reader over data split into pieces; `seed` == 0 means one piece.
std::string run(const uint8_t* data, size_t size, uint32_t seed) {
  Recorder rec;
  TarReader reader(&rec);
  const char* p = reinterpret_cast<const char*>(data);
  Status st;
  size_t pos = 0;
  while (pos < size && st.ok()) {
    size_t piece = size - pos;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      piece = std::min<size_t>(piece, 1 + (seed >> 16) % 1100);
    }
    st = reader.write(p + pos, piece);
    pos += piece;
  }
  if (st.ok()) st = reader.finish();
  return rec.log_ + (st.ok() ? "ok" : "error: " + st.error().message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string whole = run(data, size, 0);
  uint32_t seed = static_cast<uint32_t>(size) | 1;
  if (size > 0) seed ^= data[size / 2] << 8;
  std::string pieces = run(data, size, seed);
  if (whole != pieces) std::abort();  // the outcome depends on chunk boundaries
  return 0;
}
