// One record per line: the path, a NUL, the hash in 16 hex digits, a NUL, the tar size in
// decimal, a newline. Paths hold neither NUL nor, once checked, anything unsafe; sorted
// paths share long prefixes, which zstd takes down to a few bytes a record.
#include "regcache/format/file_list.hpp"

#include <charconv>
#include <cstdio>

#include "regcache/archive/compression.hpp"
#include "regcache/archive/safe_path.hpp"
#include "regcache/util/base64.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

namespace {

constexpr uint64_t kMaxListBytes = 512ull << 20;

Error bad(const std::string& why) {
  return make_error(ErrorKind::integrity, "malformed file list in the entry's config: " + why);
}

}  // namespace

std::string encode_file_list(const std::vector<FileRecord>& records) {
  std::string text;
  char hex[24];
  for (const auto& r : records) {
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(r.hash));
    text += r.path;
    text += '\0';
    text += hex;
    text += '\0';
    text += std::to_string(r.tar_bytes);
    text += '\n';
  }
  StringSink out(kMaxListBytes);
  auto zstd = make_compressor(Compression::zstd, 3, &out);
  // Writing into memory cannot fail below the limit, which the text cannot reach: it is
  // bounded by the tree the save just walked.
  (void)zstd->write(text.data(), text.size());
  (void)zstd->finish();
  return base64_encode(out.str());
}

Result<std::vector<FileRecord>> decode_file_list(std::string_view encoded) {
  auto packed = base64_decode(encoded);
  if (!packed) return bad("not base64");
  StringSink text(kMaxListBytes);
  auto unzstd = make_decompressor(Compression::zstd, kMaxListBytes, &text);
  Status st = unzstd->write(packed->data(), packed->size());
  if (st.ok()) st = unzstd->finish();
  if (!st.ok()) return bad(st.error().message);
  std::vector<FileRecord> out;
  std::string_view rest = text.str();
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    if (nl == std::string_view::npos) return bad("a record without its newline");
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    auto a = line.find('\0');
    auto b = a == std::string_view::npos ? a : line.find('\0', a + 1);
    if (b == std::string_view::npos || b - a != 17) return bad("a record is not path, hash, size");
    FileRecord r;
    r.path = std::string(line.substr(0, a));
    auto norm = normalize_archive_path(r.path);
    if (!norm || *norm != r.path) return bad("unsafe path " + r.path.substr(0, 200));
    if (!out.empty() && out.back().path >= r.path) return bad("paths not sorted at " + r.path);
    const char* h = line.data() + a + 1;
    auto [he, hec] = std::from_chars(h, h + 16, r.hash, 16);
    const char* s = line.data() + b + 1;
    const char* end = line.data() + line.size();
    auto [se, sec] = std::from_chars(s, end, r.tar_bytes);
    if (hec != std::errc() || he != h + 16 || sec != std::errc() || se != end || s == end)
      return bad("a record's hash or size is not a number");
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace regcache
