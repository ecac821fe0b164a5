// Writes POSIX pax archives with no host-specific fields: uid/gid 0, empty user and group
// names, no atime/ctime, a fixed name for extended headers. A pax extended header is
// emitted only when the entry needs one (a path or link target too long or not ASCII for
// the ustar fields, a nanosecond mtime or one outside 1970-2242, a size of 8 GiB or more),
// which keeps archives of many small files compact while keeping nanosecond mtimes exact.
// Callers pass entries in the order they want them stored (the pack planner sorts them).
#include "regcache/archive/tar_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "regcache/archive/sparse.hpp"
#include "regcache/archive/tar_layout.hpp"
#include "regcache/util/fs.hpp"

namespace regcache {

namespace {

using tar::kBlock;
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

// pax writes a time as a signed decimal: before 1970, -123.25 is 123.25 s before the
// epoch, that is second -124 plus 0.75 s in FileEntry's terms.
std::string mtime_string(const FileEntry& e) {
  uint32_t nsec = e.mtime_nsec;
  std::string whole;
  if (e.mtime_sec >= 0) {
    whole = std::to_string(e.mtime_sec);
  } else if (nsec > 0) {
    whole = "-" + std::to_string(-(e.mtime_sec + 1));
    nsec = 1000000000u - nsec;
  } else {
    whole = "-" + std::to_string(0u - static_cast<uint64_t>(e.mtime_sec));
  }
  char frac[16];
  std::snprintf(frac, sizeof frac, "%09u", nsec);
  return whole + "." + frac;
}

bool mtime_fits_ustar(const FileEntry& e) {
  return e.mtime_sec >= 0 && static_cast<uint64_t>(e.mtime_sec) <= kMaxOctalSize;
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
  put_octal(&h[tar::kMode.offset], tar::kMode.width, e.mode & 07777);
  put_octal(&h[tar::kUid.offset], tar::kUid.width, 0);
  put_octal(&h[tar::kGid.offset], tar::kGid.width, 0);
  put_octal(&h[tar::kSize.offset], tar::kSize.width, size <= kMaxOctalSize ? size : 0);
  put_octal(&h[tar::kMtime.offset], tar::kMtime.width,
            mtime_fits_ustar(e) ? static_cast<uint64_t>(e.mtime_sec) : 0);
  h[tar::kTypeflag.offset] = typeflag;
  const std::string& link = e.link_target;
  std::memcpy(&h[tar::kLinkname.offset], link.data(),
              std::min<size_t>(link.size(), tar::kLinkname.width - 1));
  std::memcpy(&h[tar::kMagic.offset], "ustar", tar::kMagic.width);
  std::memcpy(&h[tar::kVersion.offset], "00", tar::kVersion.width);
  put_octal(&h[tar::kDevmajor.offset], tar::kDevmajor.width, 0);
  put_octal(&h[tar::kDevminor.offset], tar::kDevminor.width, 0);
  std::memset(&h[tar::kChecksum.offset], ' ', tar::kChecksum.width);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  put_octal(&h[tar::kChecksum.offset], tar::kChecksum.width - 1, sum);
  h[tar::kChecksum.offset + tar::kChecksum.width - 1] = ' ';
  return out_->write(h.data(), h.size());
}

Status TarWriter::write_pax(const FileEntry& e, uint64_t size, const SparseFile* sparse) {
  std::string records;
  std::string name = e.type == FileType::directory ? e.path + "/" : e.path;
  if (!fits_ustar(name, 100)) records += pax_record("path", name);
  if (!e.link_target.empty() && !fits_ustar(e.link_target, 100)) {
    records += pax_record("linkpath", e.link_target);
  }
  if (e.mtime_nsec != 0 || !mtime_fits_ustar(e)) records += pax_record("mtime", mtime_string(e));
  if (size > kMaxOctalSize) records += pax_record("size", std::to_string(size));
  if (sparse) {  // GNU sparse format 1.0: the map opens the entry's data (archive/sparse.hpp)
    records += pax_record("GNU.sparse.major", "1");
    records += pax_record("GNU.sparse.minor", "0");
    records += pax_record("GNU.sparse.name", e.path);
    records += pax_record("GNU.sparse.realsize", std::to_string(e.size));
  }
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

Status TarWriter::copy_range(int fd, uint64_t offset, uint64_t length, const std::string& source) {
  // Allocated on a thread's first use: a buffer inside the thread-local block itself would
  // be zeroed (and faulted in) for every thread the process starts, copying or not.
  static thread_local std::vector<char> buf(1 << 17);
  while (length > 0) {
    ssize_t n =
        ::pread(fd, buf.data(), std::min<uint64_t>(length, buf.size()), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read", source, errno);
    if (n == 0) return make_error(ErrorKind::io, "file shrank while saving: " + source);
    RC_CHECK(out_->write(buf.data(), static_cast<size_t>(n)));
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return {};
}

// Opens a regular file the walk listed, refusing one that is no longer what the walk saw:
// a directory above it swapped for a symlink would otherwise let another user's file (or
// one only root may read) into the cache.
Result<int> TarWriter::open_walked(const FileEntry& e, const std::string& source) {
  int fd = open_path(source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return errno_error("cannot open", source, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return errno_error("cannot stat", source, err);
  }
  const bool walked = e.dev != 0 || e.ino != 0;
  if (!S_ISREG(st.st_mode) || (walked && (st.st_dev != e.dev || st.st_ino != e.ino))) {
    ::close(fd);
    return make_error(ErrorKind::io,
                      source + " changed while saving (it is not the file the walk found)");
  }
  if (static_cast<uint64_t>(st.st_size) < e.size) {
    ::close(fd);
    return make_error(ErrorKind::io, "file shrank while saving: " + source);
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // only kept FIFOs from blocking
  // Written since the walk (it grew, or was rewritten in place): the entry would hold part
  // of it under the walk's size and time.
  if (walked && (static_cast<uint64_t>(st.st_size) != e.size || st.st_mtim.tv_sec != e.mtime_sec ||
                 static_cast<uint32_t>(st.st_mtim.tv_nsec) != e.mtime_nsec)) {
    ::close(fd);
    return make_error(ErrorKind::io, source + " changed while saving (written since the walk)");
  }
  opened_ = st;
  return fd;
}

// Checks, once its bytes are read, that nothing wrote to the file meanwhile.
Status TarWriter::check_unchanged(int fd, const std::string& source) const {
  struct stat now {};
  if (::fstat(fd, &now) != 0) return errno_error("cannot stat", source, errno);
  if (now.st_size != opened_.st_size || now.st_mtim.tv_sec != opened_.st_mtim.tv_sec ||
      now.st_mtim.tv_nsec != opened_.st_mtim.tv_nsec ||
      now.st_ctim.tv_sec != opened_.st_ctim.tv_sec ||
      now.st_ctim.tv_nsec != opened_.st_ctim.tv_nsec)
    return make_error(ErrorKind::io, source + " changed while saving (written while it was read)");
  return {};
}

Status TarWriter::add_regular(const FileEntry& e) {
  const std::string source = source_of(e);
  int fd = RC_TRY(open_walked(e, source));
  auto sparse = find_sparse_data(fd, e.size, source);
  Status st = sparse.ok() ? Status{} : Status(sparse.error());
  const SparseFile* map = sparse.ok() && *sparse ? &**sparse : nullptr;
  const uint64_t stored = map ? map->stored_size() : e.size;
  if (st.ok()) st = write_pax(e, stored, map);
  if (st.ok()) st = write_header(e, '0', stored);
  if (st.ok() && map) {
    std::string text = map->map_text();
    st = out_->write(text.data(), text.size());
    for (size_t i = 0; st.ok() && i < map->segments.size(); ++i)
      st = copy_range(fd, map->segments[i].offset, map->segments[i].length, source);
  } else if (st.ok()) {
    st = copy_range(fd, 0, e.size, source);
  }
  if (st.ok()) st = check_unchanged(fd, source);
  ::close(fd);
  RC_CHECK(st);
  return pad(stored);
}

Status TarWriter::add(const FileEntry& e) {
  if (e.type == FileType::regular && !e.source_dir && e.size == 0) {
    RC_CHECK(write_pax(e, 0, nullptr));  // an empty file from nowhere: a whiteout
    return write_header(e, '0', 0);
  }
  if (e.type == FileType::regular) return add_regular(e);
  RC_CHECK(write_pax(e, 0, nullptr));
  return write_header(e, typeflag_for(e.type), 0);
}

Status TarWriter::begin_regular(const FileEntry& e) {
  RC_CHECK(write_pax(e, e.size, nullptr));
  return write_header(e, '0', e.size);
}

Status TarWriter::close() {
  static const char zeros[kBlock * 2] = {};
  RC_CHECK(out_->write(zeros, sizeof zeros));
  return out_->finish();
}

}  // namespace regcache
