// Writes POSIX pax archives with no host-specific fields: uid/gid 0, empty user and group
// names, no atime/ctime, a fixed name for extended headers. A pax extended header is
// emitted only when the entry needs one (a path or link target too long or not ASCII for
// the ustar fields, a nanosecond mtime, a size of 8 GiB or more), which keeps archives of
// many small files compact while keeping nanosecond mtimes exact. Callers pass entries in
// the order they want them stored (the pack planner sorts them).
#include "regcache/archive/tar_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "regcache/util/fs.hpp"

namespace regcache {

namespace {

constexpr size_t kBlock = 512;
constexpr uint64_t kMaxOctalSize = 077777777777ULL;  // 11 octal digits

void put_octal(char* field, size_t width, uint64_t value) {
  // width includes the terminating NUL
  std::memset(field, '0', width - 1);
  field[width - 1] = '\0';
  for (size_t i = width - 1; i-- > 0 && value > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
}

bool fits_ustar(const std::string& s, size_t width) {
  if (s.size() >= width) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::string pax_record(const std::string& key, const std::string& value) {
  // "<len> <key>=<value>\n" where len counts itself
  std::string body = " " + key + "=" + value + "\n";
  size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) ++len;
  return std::to_string(len) + body;
}

std::string mtime_string(const FileEntry& e) {
  char frac[16];
  std::snprintf(frac, sizeof frac, "%09u", e.mtime_nsec);
  return std::to_string(e.mtime_sec) + "." + frac;
}

char typeflag_for(FileType t) {
  switch (t) {
    case FileType::regular:
      return '0';
    case FileType::hardlink:
      return '1';
    case FileType::symlink:
      return '2';
    case FileType::directory:
      return '5';
  }
  return '0';
}

}  // namespace

Status TarWriter::write_header(const FileEntry& e, char typeflag, uint64_t size) {
  std::array<char, kBlock> h{};
  std::string name = e.path;
  if (e.type == FileType::directory && typeflag == '5') name += "/";
  if (name.size() < 100)
    std::memcpy(h.data(), name.data(), name.size());
  else
    std::memcpy(h.data(), name.data(), 99);  // the pax header holds the full name
  put_octal(&h[100], 8, e.mode & 07777);
  put_octal(&h[108], 8, 0);
  put_octal(&h[116], 8, 0);
  put_octal(&h[124], 12, size <= kMaxOctalSize ? size : 0);
  put_octal(&h[136], 12, e.mtime_sec > 0 ? static_cast<uint64_t>(e.mtime_sec) : 0);
  h[156] = typeflag;
  const std::string& link = e.link_target;
  std::memcpy(&h[157], link.data(), std::min<size_t>(link.size(), 99));
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  put_octal(&h[329], 8, 0);
  put_octal(&h[337], 8, 0);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  put_octal(&h[148], 7, sum);
  h[155] = ' ';
  return out_->write(h.data(), h.size());
}

Status TarWriter::write_pax(const FileEntry& e, uint64_t size) {
  std::string records;
  std::string name = e.type == FileType::directory ? e.path + "/" : e.path;
  if (!fits_ustar(name, 100)) records += pax_record("path", name);
  if (!e.link_target.empty() && !fits_ustar(e.link_target, 100)) {
    records += pax_record("linkpath", e.link_target);
  }
  if (e.mtime_nsec != 0 || e.mtime_sec < 0) records += pax_record("mtime", mtime_string(e));
  if (size > kMaxOctalSize) records += pax_record("size", std::to_string(size));
  if (records.empty()) return {};
  FileEntry ph;
  ph.path = "PaxHeader";
  ph.mode = 0644;
  RC_CHECK(write_header(ph, 'x', records.size()));
  RC_CHECK(out_->write(records.data(), records.size()));
  return pad(records.size());
}

Status TarWriter::pad(uint64_t size) {
  static const char zeros[kBlock] = {};
  size_t rem = size % kBlock;
  return rem == 0 ? Status{} : out_->write(zeros, kBlock - rem);
}

Status TarWriter::copy_content(const FileEntry& e) {
  const std::string source = source_of(e);
  int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno_error("cannot open", source, errno);
  static thread_local std::array<char, 1 << 17> buf;
  uint64_t left = e.size;
  Status st;
  while (left > 0 && st.ok()) {
    ssize_t n = ::read(fd, buf.data(), std::min<uint64_t>(left, buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      st = errno_error("cannot read", source, errno);
    else if (n == 0)
      st = make_error(ErrorKind::io, "file shrank while saving: " + source);
    else {
      st = out_->write(buf.data(), static_cast<size_t>(n));
      left -= static_cast<uint64_t>(n);
    }
  }
  ::close(fd);
  RC_CHECK(st);
  return pad(e.size);
}

Status TarWriter::add(const FileEntry& e) {
  uint64_t size = e.type == FileType::regular ? e.size : 0;
  RC_CHECK(write_pax(e, size));
  RC_CHECK(write_header(e, typeflag_for(e.type), size));
  return e.type == FileType::regular ? copy_content(e) : Status{};
}

Status TarWriter::close() {
  static const char zeros[kBlock * 2] = {};
  RC_CHECK(out_->write(zeros, sizeof zeros));
  return out_->finish();
}

}  // namespace regcache
