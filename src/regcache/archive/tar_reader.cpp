// A push parser: bytes arrive in arbitrary pieces; 512-byte headers are assembled in a
// small buffer, contents are passed through to the handler without copying. pax 'x'
// records (path, linkpath, mtime, size) and GNU 'L'/'K' long names apply to the next
// entry; global 'g' headers are ignored. Extended bodies are capped at 1 MiB, so a
// crafted header cannot make the reader allocate without bound.
#include "regcache/archive/tar_reader.hpp"

#include "regcache/archive/tar_layout.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace regcache {

namespace {

using tar::kBlock;
constexpr uint64_t kMaxExtended = 1 << 20;

Result<uint64_t> parse_numeric(const char* field, size_t width) {
  if (static_cast<unsigned char>(field[0]) & 0x80) {  // base-256 (GNU)
    if (field[0] & 0x40) return make_error(ErrorKind::integrity, "negative number in tar header");
    uint64_t v = field[0] & 0x3f;
    for (size_t i = 1; i < width; ++i) {
      if (v >> 56) return make_error(ErrorKind::integrity, "number too large in tar header");
      v = (v << 8) | static_cast<unsigned char>(field[i]);
    }
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (v >> 60) return make_error(ErrorKind::integrity, "number too large in tar header");
    v = v * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  return v;
}

std::string field_string(const char* field, size_t width) {
  return std::string(field, strnlen(field, width));
}

bool checksum_ok(const char* h) {
  auto stored = parse_numeric(h + tar::kChecksum.offset, tar::kChecksum.width);
  if (!stored.ok()) return false;
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    sum += (i >= tar::kChecksum.offset && i < tar::kChecksum.offset + tar::kChecksum.width)
               ? ' '
               : static_cast<unsigned char>(h[i]);
  }
  return sum == *stored;
}

bool zero_block(const std::string& b) {
  return std::all_of(b.begin(), b.end(), [](char c) { return c == 0; });
}

Result<std::pair<int64_t, uint32_t>> parse_pax_time(const std::string& v) {
  int64_t sec = 0;
  auto dot = v.find('.');
  std::string_view whole(v.data(), dot == std::string::npos ? v.size() : dot);
  auto r = std::from_chars(whole.data(), whole.data() + whole.size(), sec);
  if (r.ec != std::errc() || r.ptr != whole.data() + whole.size()) {
    return make_error(ErrorKind::integrity, "bad pax mtime: " + v.substr(0, 40));
  }
  uint32_t nsec = 0;
  if (dot != std::string::npos) {
    std::string frac = v.substr(dot + 1, 9);
    frac.resize(9, '0');
    for (char c : frac) {
      if (c < '0' || c > '9') return make_error(ErrorKind::integrity, "bad pax mtime");
      nsec = nsec * 10 + static_cast<uint32_t>(c - '0');
    }
  }
  if (nsec > 0 && !whole.empty() && whole[0] == '-') {  // -0.25 is second -1 plus 0.75 s
    if (sec == std::numeric_limits<int64_t>::min()) {
      return make_error(ErrorKind::integrity, "bad pax mtime: " + v.substr(0, 40));
    }
    sec -= 1;
    nsec = 1000000000u - nsec;
  }
  return std::make_pair(sec, nsec);
}

}  // namespace

Status TarReader::apply_pax(const std::string& records) {
  size_t pos = 0;
  while (pos < records.size()) {
    size_t space = records.find(' ', pos);
    if (space == std::string::npos) return make_error(ErrorKind::integrity, "bad pax record");
    size_t len = 0;
    auto r = std::from_chars(records.data() + pos, records.data() + space, len);
    // len is checked against what is left, never added to pos first: a length near 2^64
    // would wrap pos + len around to an earlier record and loop for ever.
    if (r.ec != std::errc() || r.ptr != records.data() + space || len <= space - pos ||
        len > records.size() - pos || records[pos + len - 1] != '\n') {
      return make_error(ErrorKind::integrity, "bad pax record length");
    }
    std::string kv = records.substr(space + 1, pos + len - 1 - (space + 1));
    pos += len;
    auto eq = kv.find('=');
    if (eq == std::string::npos) return make_error(ErrorKind::integrity, "bad pax record");
    std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (key == "path") {
      pending_.path = value;
      has_path_ = true;
    } else if (key == "linkpath") {
      pending_.linkpath = value;
      has_link_ = true;
    } else if (key == "mtime") {
      auto t = RC_TRY(parse_pax_time(value));
      pending_.mtime_sec = t.first;
      pending_.mtime_nsec = t.second;
      has_mtime_ = true;
    } else if (key == "GNU.sparse.major" || key == "GNU.sparse.minor") {
      int v = -1;
      auto vr = std::from_chars(value.data(), value.data() + value.size(), v);
      if (vr.ec != std::errc()) return make_error(ErrorKind::integrity, "bad pax " + key);
      (key == "GNU.sparse.major" ? sparse_major_ : sparse_minor_) = v;
    } else if (key == "GNU.sparse.realsize") {
      uint64_t v = 0;
      auto vr = std::from_chars(value.data(), value.data() + value.size(), v);
      if (vr.ec != std::errc())
        return make_error(ErrorKind::integrity, "bad pax GNU.sparse.realsize");
      sparse_realsize_ = v;
    } else if (key == "GNU.sparse.name") {
      pending_.path = value;
      has_path_ = true;
    } else if (key == "size") {
      uint64_t s = 0;
      auto sr = std::from_chars(value.data(), value.data() + value.size(), s);
      if (sr.ec != std::errc()) return make_error(ErrorKind::integrity, "bad pax size");
      pending_.size = s;
      has_size_ = true;
    }
  }
  return {};
}

Status TarReader::on_extended_complete() {
  if (ext_type_ == 'x') RC_CHECK(apply_pax(ext_));
  if (ext_type_ == 'L') {
    pending_.path = field_string(ext_.data(), ext_.size());
    has_path_ = true;
  }
  if (ext_type_ == 'K') {
    pending_.linkpath = field_string(ext_.data(), ext_.size());
    has_link_ = true;
  }
  ext_.clear();
  return {};
}

Status TarReader::on_header() {
  const char* h = block_.data();
  if (zero_block(block_)) {
    if (++zero_blocks_ == 2) state_ = State::done;
    return {};
  }
  if (zero_blocks_ > 0) return make_error(ErrorKind::integrity, "tar: data after a zero block");
  if (!checksum_ok(h)) return make_error(ErrorKind::integrity, "tar: header checksum mismatch");
  TarHeader th;
  th.typeflag = h[tar::kTypeflag.offset] == '\0' ? '0' : h[tar::kTypeflag.offset];
  th.size = RC_TRY(parse_numeric(h + tar::kSize.offset, tar::kSize.width));
  th.mode = static_cast<uint32_t>(RC_TRY(parse_numeric(h + tar::kMode.offset, tar::kMode.width)) &
                                  07777777);
  th.mtime_sec =
      static_cast<int64_t>(RC_TRY(parse_numeric(h + tar::kMtime.offset, tar::kMtime.width)));
  th.path = field_string(h + tar::kName.offset, tar::kName.width);
  th.linkpath = field_string(h + tar::kLinkname.offset, tar::kLinkname.width);
  if (std::memcmp(h + tar::kMagic.offset, "ustar", 5) == 0) {
    std::string prefix = field_string(h + tar::kPrefix.offset, tar::kPrefix.width);
    if (!prefix.empty() && std::memcmp(h + tar::kMagic.offset, "ustar\0", tar::kMagic.width) == 0)
      th.path = prefix + "/" + th.path;
  }
  char t = th.typeflag;
  if (t == 'x' || t == 'g' || t == 'L' || t == 'K') {
    if (th.size > kMaxExtended)
      return make_error(ErrorKind::integrity, "tar: extended header too large");
    ext_type_ = t;
    left_ = th.size;
    padding_ = (kBlock - th.size % kBlock) % kBlock;
    state_ = left_ > 0 ? State::extended : (padding_ ? State::padding : State::header);
    return left_ > 0 ? Status{} : on_extended_complete();
  }
  if (has_path_) th.path = pending_.path;
  if (has_link_) th.linkpath = pending_.linkpath;
  if (has_mtime_) th.mtime_sec = pending_.mtime_sec, th.mtime_nsec = pending_.mtime_nsec;
  if (has_size_) th.size = pending_.size;
  has_path_ = has_link_ = has_mtime_ = has_size_ = false;
  pending_ = TarHeader{};
  const bool sparse = sparse_major_ >= 0 || sparse_realsize_;
  if (sparse &&
      (sparse_major_ != 1 || sparse_minor_ != 0 || !sparse_realsize_ || (t != '0' && t != '7')))
    return make_error(ErrorKind::integrity,
                      "tar: unsupported sparse entry " + th.path.substr(0, 200));
  if (sparse) {
    // The map opens the data: the entry begins once it is read (on_sparse_map).
    sparse_header_ = th;
    sparse_header_.sparse = true;
    sparse_header_.size = *sparse_realsize_;
    sparse_major_ = sparse_minor_ = -1;
    sparse_realsize_.reset();
    sparse_map_.clear();
    sparse_map_lines_ = 0;
    left_ = th.size;
    padding_ = (kBlock - left_ % kBlock) % kBlock;
    if (left_ == 0) return make_error(ErrorKind::integrity, "tar: sparse entry without a map");
    state_ = State::sparse_map;
    return {};
  }
  RC_CHECK(handler_->begin(th));
  // Links and directories carry no content whatever their size field says.
  bool has_data = t != '1' && t != '2' && t != '5';
  left_ = has_data ? th.size : 0;
  padding_ = (kBlock - left_ % kBlock) % kBlock;
  if (left_ > 0) {
    state_ = State::data;
    return {};
  }
  state_ = padding_ ? State::padding : State::header;
  return handler_->end();
}

Status TarReader::write(const char* data, size_t size) {
  while (size > 0) {
    switch (state_) {
      case State::done:
        return {};  // trailing bytes after the end marker are ignored
      case State::header: {
        size_t take = std::min(size, kBlock - block_.size());
        block_.append(data, take);
        data += take;
        size -= take;
        if (block_.size() == kBlock) {
          RC_CHECK(on_header());
          block_.clear();
        }
        break;
      }
      case State::sparse_map: {
        // A block at a time, so the map never takes bytes of the data after it.
        size_t take = static_cast<size_t>(
            std::min<uint64_t>({size, left_, kBlock - sparse_map_.size() % kBlock}));
        sparse_map_.append(data, take);
        sparse_map_lines_ += static_cast<size_t>(std::count(data, data + take, '\n'));
        data += take;
        size -= take;
        left_ -= take;
        if ((sparse_map_.size() % kBlock == 0 && sparse_map_may_be_whole()) || left_ == 0)
          RC_CHECK(on_sparse_map());
        break;
      }
      case State::data:
      case State::extended: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(size, left_));
        if (state_ == State::data && sparse_header_.sparse)
          RC_CHECK(sparse_data(data, take));
        else if (state_ == State::data)
          RC_CHECK(handler_->data(data, take));
        else
          ext_.append(data, take);
        data += take;
        size -= take;
        left_ -= take;
        if (left_ == 0) {
          if (state_ == State::data && sparse_header_.sparse)
            RC_CHECK(sparse_end());
          else if (state_ == State::data)
            RC_CHECK(handler_->end());
          else
            RC_CHECK(on_extended_complete());
          state_ = padding_ ? State::padding : State::header;
        }
        break;
      }
      case State::padding: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(size, padding_));
        data += take;
        size -= take;
        padding_ -= take;
        if (padding_ == 0) state_ = State::header;
        break;
      }
    }
  }
  return {};
}

Status TarEntryHandler::hole(uint64_t size) {
  static const char zeros[65536] = {};
  while (size > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(size, sizeof zeros));
    RC_CHECK(data(zeros, n));
    size -= n;
  }
  return {};
}

// A map of N segments is 1 + 2N lines: parsing it again at every block before that many
// lines have arrived would cost the square of a long map's length.
bool TarReader::sparse_map_may_be_whole() const {
  if (sparse_map_.size() >= kMaxSparseMapBytes) return true;  // on_sparse_map says it is too long
  if (sparse_map_lines_ == 0) return false;
  uint64_t count = 0;
  auto r = std::from_chars(sparse_map_.data(), sparse_map_.data() + sparse_map_.find('\n'), count);
  if (r.ec != std::errc() || count > kMaxSparseSegments) return true;  // parsing refuses it
  return sparse_map_lines_ >= 1 + 2 * count;
}

Status TarReader::on_sparse_map() {
  auto parsed = RC_TRY(parse_sparse_map(sparse_map_, sparse_header_.size, kMaxSparseSegments));
  if (!parsed) {
    if (left_ == 0 || sparse_map_.size() >= kMaxSparseMapBytes)
      return make_error(
          ErrorKind::integrity,
          "tar: sparse map of " + sparse_header_.path.substr(0, 200) + " is incomplete");
    return {};
  }
  uint64_t stored = 0;
  for (const auto& seg : parsed->first.segments) stored += seg.length;
  if (parsed->second != sparse_map_.size() || stored != left_) {
    return make_error(
        ErrorKind::integrity,
        "tar: sparse map of " + sparse_header_.path.substr(0, 200) + " does not match its data");
  }
  segments_ = std::move(parsed->first.segments);
  segment_ = 0;
  in_segment_ = 0;
  logical_ = 0;
  RC_CHECK(handler_->begin(sparse_header_));
  if (left_ > 0) {
    state_ = State::data;
    return {};
  }
  RC_CHECK(sparse_end());
  state_ = padding_ ? State::padding : State::header;
  return {};
}

Status TarReader::sparse_data(const char* data, size_t size) {
  while (size > 0) {
    while (segment_ < segments_.size() && in_segment_ == segments_[segment_].length) {
      ++segment_;
      in_segment_ = 0;
    }
    const SparseSegment& seg = segments_[segment_];  // exists: the lengths add up to the data
    if (in_segment_ == 0 && logical_ < seg.offset) {
      RC_CHECK(handler_->hole(seg.offset - logical_));
      logical_ = seg.offset;
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(size, seg.length - in_segment_));
    RC_CHECK(handler_->data(data, take));
    data += take;
    size -= take;
    in_segment_ += take;
    logical_ += take;
  }
  return {};
}

Status TarReader::sparse_end() {
  if (logical_ < sparse_header_.size) RC_CHECK(handler_->hole(sparse_header_.size - logical_));
  sparse_header_ = TarHeader{};
  return handler_->end();
}

Status TarReader::finish() {
  if (state_ == State::done || (state_ == State::header && block_.empty())) return {};
  return make_error(ErrorKind::integrity, "tar stream ended inside an entry");
}

}  // namespace regcache
