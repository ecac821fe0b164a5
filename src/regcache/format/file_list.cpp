// One record per line: the path, a NUL, the hash in 16 hex digits, a NUL, the tar size in
// decimal, a newline. Paths hold no NUL (a newline in a name is read as part of the path)
// nor, once checked, anything unsafe; sorted
// paths share long prefixes, which zstd takes down to a few bytes a record.
#include "regcache/format/file_list.hpp"

#include <charconv>
#include <cstdio>
#include <memory>

#include "regcache/archive/compression.hpp"
#include "regcache/archive/safe_path.hpp"
#include "regcache/util/base64.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

namespace {

constexpr uint64_t kMaxListBytes = 512ull << 20;
constexpr size_t kPendingBytes = 1u << 20;  // text compressed at a time

Error bad_list(const std::string& why) {
  return make_error(ErrorKind::integrity, "malformed file list in the entry's config: " + why);
}

}  // namespace

struct FileListWriter::State {
  uint64_t max_bytes;
  StringSink packed{kMaxListBytes};
  std::unique_ptr<Sink> zstd = make_compressor(Compression::zstd, 3, &packed);
  std::string pending;  // text not compressed yet
  bool over = false;

  void flush(bool last) {
    // Writing into memory cannot fail below kMaxListBytes; max_bytes stops long before.
    if (!pending.empty()) (void)zstd->write(pending.data(), pending.size());
    pending.clear();
    if (last) (void)zstd->finish();
    over = over || packed.str().size() / 3 * 4 > max_bytes;
  }
};

FileListWriter::FileListWriter(uint64_t max_bytes) : state_(std::make_unique<State>()) {
  state_->max_bytes = max_bytes;
  // Reserved once (pages are touched only as text is written), not grown by doubling: the
  // copies and fresh pages of that growth were a tenth of an unchanged save's page faults.
  state_->pending.reserve(kPendingBytes + 8192);
}

FileListWriter::~FileListWriter() = default;

void FileListWriter::add(std::string_view path, uint64_t hash, uint64_t tar_bytes) {
  State& st = *state_;
  if (st.over) return;
  char hex[24];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  st.pending.append(path);
  st.pending += '\0';
  st.pending += hex;
  st.pending += '\0';
  st.pending += std::to_string(tar_bytes);
  st.pending += '\n';
  if (st.pending.size() >= kPendingBytes) st.flush(false);
}

std::string FileListWriter::finish() {
  State& st = *state_;
  if (!st.over) st.flush(true);
  if (st.over) return {};
  std::string out = base64_encode(st.packed.str());
  return out.size() > st.max_bytes ? std::string() : out;
}

std::string encode_file_list(const std::vector<FileRecord>& records) {
  FileListWriter w(kMaxListBytes);
  for (const auto& r : records) w.add(r.path, r.hash, r.tar_bytes);
  return w.finish();
}

Result<std::vector<FileRecord>> decode_file_list(std::string_view encoded) {
  auto packed = base64_decode(encoded);
  if (!packed) return bad_list("not base64");
  StringSink text(kMaxListBytes);
  auto unzstd = make_decompressor(Compression::zstd, kMaxListBytes, &text);
  Status st = unzstd->write(packed->data(), packed->size());
  if (st.ok()) st = unzstd->finish();
  if (!st.ok()) return bad_list(st.error().message);
  std::vector<FileRecord> out;
  std::string_view rest = text.str();
  while (!rest.empty()) {
    // The path runs to the first NUL (a file name may hold a newline, never a NUL); the
    // newline that ends the record comes after the hash.
    auto a = rest.find('\0');
    if (a == std::string_view::npos) return bad_list("a record without its newline");
    auto nl = rest.find('\n', a);
    if (nl == std::string_view::npos) return bad_list("a record without its newline");
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    auto b = line.find('\0', a + 1);
    if (b == std::string_view::npos || b - a != 17)
      return bad_list("a record is not path, hash, size");
    FileRecord r;
    r.path = std::string(line.substr(0, a));
    auto norm = normalize_archive_path(r.path);
    if (!norm || *norm != r.path) return bad_list("unsafe path " + r.path.substr(0, 200));
    if (!out.empty() && out.back().path >= r.path) return bad_list("paths not sorted at " + r.path);
    const char* h = line.data() + a + 1;
    auto [he, hec] = std::from_chars(h, h + 16, r.hash, 16);
    const char* s = line.data() + b + 1;
    const char* end = line.data() + line.size();
    auto [se, sec] = std::from_chars(s, end, r.tar_bytes);
    if (hec != std::errc() || he != h + 16 || sec != std::errc() || se != end || s == end)
      return bad_list("a record's hash or size is not a number");
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace regcache
