#include "regcache/archive/sparse.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "regcache/archive/tar_layout.hpp"
#include "regcache/util/fs.hpp"

namespace regcache {

namespace {

bool zeros_only(const char* p, size_t n) {
  return std::all_of(p, p + n, [](char c) { return c == 0; });
}

void add_data(std::vector<SparseSegment>& segs, uint64_t offset, uint64_t length) {
  if (!segs.empty() && segs.back().offset + segs.back().length == offset)
    segs.back().length += length;
  else
    segs.push_back({offset, length});
}

// Classifies the 4 KiB blocks of [from, to) by reading them.
Status scan_blocks(int fd, uint64_t from, uint64_t to, uint64_t size, const std::string& source,
                   std::vector<SparseSegment>& segs) {
  static thread_local std::vector<char> buf(1 << 20);
  for (uint64_t pos = from; pos < to;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), to - pos));
    ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read", source, errno);
    if (n == 0) return make_error(ErrorKind::io, "file shrank while saving: " + source);
    for (size_t b = 0; b < static_cast<size_t>(n); b += kSparseBlock) {
      size_t len = std::min<size_t>(kSparseBlock, static_cast<size_t>(n) - b);
      if (!zeros_only(buf.data() + b, len))
        add_data(segs, pos + b, std::min<uint64_t>(len, size - pos - b));
    }
    pos += static_cast<uint64_t>(n);
  }
  return {};
}

}  // namespace

std::string SparseFile::map_text() const {
  std::string out = std::to_string(segments.size()) + "\n";
  for (const auto& s : segments)
    out += std::to_string(s.offset) + "\n" + std::to_string(s.length) + "\n";
  out.resize((out.size() + tar::kBlock - 1) / tar::kBlock * tar::kBlock, '\0');
  return out;
}

uint64_t SparseFile::stored_size() const {
  uint64_t n = map_text().size();
  for (const auto& s : segments) n += s.length;
  return n;
}

Result<std::optional<SparseFile>> find_sparse_data(int fd, uint64_t size,
                                                   const std::string& source) {
  if (size < kSparseMinSize) return std::optional<SparseFile>();
  off_t first_hole = ::lseek(fd, 0, SEEK_HOLE);
  if (first_hole < 0 || static_cast<uint64_t>(first_hole) >= size)
    return std::optional<SparseFile>();
  SparseFile f;
  f.size = size;
  uint64_t pos = 0;
  while (pos < size) {
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // a hole to the end
    if (data < 0) return errno_error("cannot find the data of", source, errno);
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    uint64_t end = hole < 0 ? size : std::min<uint64_t>(size, static_cast<uint64_t>(hole));
    // Whole 4 KiB blocks around the data, so the map depends on content, not on where
    // this filesystem put its block boundaries.
    uint64_t from = std::max(pos, static_cast<uint64_t>(data) / kSparseBlock * kSparseBlock);
    uint64_t to = std::min(size, (end + kSparseBlock - 1) / kSparseBlock * kSparseBlock);
    if (to <= from) break;
    RC_CHECK(scan_blocks(fd, from, to, size, source, f.segments));
    if (f.segments.size() >= kMaxSparseSegments) return std::optional<SparseFile>();
    pos = to;
  }
  uint64_t data = 0;
  for (const auto& s : f.segments) data += s.length;
  if (data == size) return std::optional<SparseFile>();  // no zero block after all
  if (f.segments.empty() || f.segments.back().offset + f.segments.back().length < size)
    f.segments.push_back({size, 0});  // as GNU tar ends a map that ends in a hole
  if (f.map_text().size() >= kMaxSparseMapBytes) return std::optional<SparseFile>();
  return std::optional<SparseFile>(std::move(f));
}

Result<std::optional<std::pair<SparseFile, size_t>>> parse_sparse_map(std::string_view text,
                                                                      uint64_t realsize,
                                                                      size_t max_segments) {
  using Parsed = std::optional<std::pair<SparseFile, size_t>>;
  size_t pos = 0;
  auto number = [&](uint64_t* out) -> Result<bool> {  // false: not all there yet
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (text.size() - pos > 20) return make_error(ErrorKind::integrity, "malformed sparse map");
      return false;
    }
    auto r = std::from_chars(text.data() + pos, text.data() + nl, *out);
    if (r.ec != std::errc() || r.ptr != text.data() + nl)
      return make_error(ErrorKind::integrity, "malformed sparse map");
    pos = nl + 1;
    return true;
  };
  uint64_t count = 0;
  if (!RC_TRY(number(&count))) return Parsed();
  if (count > max_segments)
    return make_error(ErrorKind::integrity, "sparse map with too many segments");
  SparseFile f;
  f.size = realsize;
  uint64_t end = 0;
  for (uint64_t i = 0; i < count; ++i) {
    SparseSegment s;
    bool have_offset = RC_TRY(number(&s.offset));
    if (!have_offset) return Parsed();
    bool have_length = RC_TRY(number(&s.length));
    if (!have_length) return Parsed();
    if (s.offset < end || s.length > realsize || s.offset > realsize - s.length)
      return make_error(ErrorKind::integrity,
                        "sparse map segments out of order or past the file's size");
    end = s.offset + s.length;
    f.segments.push_back(s);
  }
  size_t padded = (pos + tar::kBlock - 1) / tar::kBlock * tar::kBlock;
  if (text.size() < padded) return Parsed();
  return Parsed(std::make_pair(std::move(f), padded));
}

}  // namespace regcache
