// The record format (machine-local, native byte order): "RCFILES" and a version byte, the
// root's source directory and archive path (each a u32 length and its bytes), a u64 row
// count, the rows (a u32 length and the path below the root, then the fixed Row fields),
// and last the XXH3-64 of everything before it. A record that does not check out, or that
// names another root, is ignored: the save reads its files as it would without one.
#include "regcache/core/file_records.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

namespace {

// The version byte changes with the layout here and with the tar writer's output (the
// prints are of its entries): records of another version count as none.
constexpr std::string_view kMagic{"RCFILES\x01", 8};
constexpr std::string_view kSuffix = ".files";
// Past this many files a root is not recorded: its record would pass 30 MiB.
constexpr size_t kMaxRecordedFiles = 200'000;
constexpr size_t kMaxRecordBytes = 64u << 20;

struct Row {
  uint64_t dev, ino, size;
  int64_t mtime_sec, ctime_sec;
  uint64_t hash, bytes;
  uint32_t mtime_nsec, ctime_nsec, mode, unused;
};
static_assert(sizeof(Row) == 72);

struct Record {
  std::string data;                     // the record file as read
  std::vector<std::string_view> paths;  // below the root, sorted, into data
  std::vector<Row> rows;
};

int64_t ctime_sec(const FileEntry& e) {
  return e.ctime_ns >= 0 ? e.ctime_ns / 1'000'000'000
                         : -((-e.ctime_ns + 999'999'999) / 1'000'000'000);
}
uint32_t ctime_nsec(const FileEntry& e) {
  return static_cast<uint32_t>(e.ctime_ns - ctime_sec(e) * 1'000'000'000);
}

bool same_stamp(const Row& r, const FileEntry& e) {
  return r.dev == e.dev && r.ino == e.ino && r.size == e.size && r.mtime_sec == e.mtime_sec &&
         r.mtime_nsec == e.mtime_nsec && r.ctime_sec == ctime_sec(e) &&
         r.ctime_nsec == ctime_nsec(e) && r.mode == e.mode;
}

std::string record_name(const std::string& source, std::string_view archive) {
  std::string id = source;
  id.push_back('\0');
  id.append(archive);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(id.data(), id.size())));
  return std::string(hex) + std::string(kSuffix);
}

void put_u32(std::string& out, uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), 4);
}
void put_text(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// Reads fixed-size values and length-prefixed texts, failing once past the end.
struct RowReader {
  std::string_view in;
  bool ok = true;
  template <class T>
  T value() {
    T v{};
    if (in.size() < sizeof v) {
      ok = false;
      return v;
    }
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return v;
  }
  std::string_view text() {
    auto n = value<uint32_t>();
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    auto s = in.substr(0, n);
    in.remove_prefix(n);
    return s;
  }
};

// Opens the records directory when it is this user's and no one else may write to it: a
// record decides which files a save reads.
UniqueFd open_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) return {};
  if (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    log_verbose("ignoring the file records in " + dir + ": another user may write there");
    return {};
  }
  return fd;
}

Record load(int dirfd, const std::string& dir, const std::string& source,
            std::string_view archive) {
  const std::string name = record_name(source, archive);
  const std::string path = dir + "/" + name;
  Record rec;
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
  if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) return {};
  auto data = read_file_at(dirfd, name, path, kMaxRecordBytes);
  if (!data.ok()) {
    log_verbose("ignoring the file record " + path + ": " + data.error().message);
    return {};
  }
  rec.data = std::move(data).value();
  std::string_view all = rec.data;
  if (all.size() < kMagic.size() + 8 || all.size() > kMaxRecordBytes ||
      all.substr(0, kMagic.size()) != kMagic) {
    log_verbose("ignoring the file record " + path + ": not a record of this version");
    return {};
  }
  uint64_t sum = 0;
  std::memcpy(&sum, all.data() + all.size() - 8, 8);
  if (XXH3_64bits(all.data(), all.size() - 8) != sum) {
    log_verbose("ignoring the file record " + path + ": damaged");
    return {};
  }
  RowReader r{all.substr(kMagic.size(), all.size() - kMagic.size() - 8)};
  if (r.text() != source || r.text() != archive) return {};
  const auto count = r.value<uint64_t>();
  if (!r.ok || count > kMaxRecordedFiles) return {};
  rec.paths.reserve(count);
  rec.rows.reserve(count);
  for (uint64_t i = 0; i < count && r.ok; ++i) {
    rec.paths.push_back(r.text());
    rec.rows.push_back(r.value<Row>());
    if (i > 0 && !(rec.paths[i - 1] < rec.paths[i])) r.ok = false;
  }
  if (!r.ok || !r.in.empty()) {
    log_verbose("ignoring the file record " + path + ": malformed");
    return {};
  }
  ::utimensat(dirfd, name.c_str(), nullptr, 0);  // its mtime says when it was last used
  return rec;
}

std::string_view below_root(const FileEntry& e) {
  return std::string_view(e.path).substr(e.archive_root_len);
}

std::string_view archive_root(const FileEntry& e) {
  return std::string_view(e.path).substr(0, e.archive_root_len);
}

// Keeps the kMaxFileRecords records written last.
void evict_old(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return;
  std::vector<std::pair<int64_t, std::string>> found;
  for (auto& name : list_dir(fd.get())) {
    if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) continue;
    struct stat st {};
    if (::fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    found.emplace_back(st.st_mtim.tv_sec * 1'000'000'000ll + st.st_mtim.tv_nsec, std::move(name));
  }
  if (found.size() <= kMaxFileRecords) return;
  std::sort(found.begin(), found.end());
  for (size_t i = 0; i + kMaxFileRecords < found.size(); ++i)
    ::unlinkat(fd.get(), found[i].second.c_str(), 0);
}

}  // namespace

size_t recall_prints(const FileRecordPlace& place, const std::vector<FileEntry>& entries,
                     std::vector<EntryPrint>& prints, std::vector<char>& known) {
  if (place.dir.empty()) return 0;
  UniqueFd dir = open_dir(place.dir);
  if (!dir) return 0;
  std::map<const std::string*, Record> records;  // by walked root
  size_t found = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const FileEntry& e = entries[i];
    if (e.type != FileType::regular || !e.source_dir) continue;
    auto it = records.find(e.source_dir.get());
    if (it == records.end())
      it = records
               .emplace(e.source_dir.get(),
                        load(dir.get(), place.dir, *e.source_dir, archive_root(e)))
               .first;
    const Record& rec = it->second;
    auto at = std::lower_bound(rec.paths.begin(), rec.paths.end(), below_root(e));
    if (at == rec.paths.end() || *at != below_root(e)) continue;
    const Row& row = rec.rows[static_cast<size_t>(at - rec.paths.begin())];
    if (!same_stamp(row, e)) continue;
    prints[i] = {row.hash, row.bytes};
    known[i] = 1;
    ++found;
  }
  return found;
}

void record_prints(const FileRecordPlace& place, const std::vector<FileEntry>& entries,
                   const std::vector<EntryPrint>& prints, TimePoint since, RecordedBy by,
                   const std::vector<char>* carried) {
  if (place.dir.empty()) return;
  const auto cutoff = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          (since - place.racy_margin).time_since_epoch())
                          .count();
  auto before = [](int64_t limit, int64_t sec, uint32_t nsec) {
    return sec < limit / 1'000'000'000 ||
           (sec == limit / 1'000'000'000 && nsec < limit % 1'000'000'000);
  };
  auto settled = [&](int64_t sec, uint32_t nsec) { return before(cutoff, sec, nsec); };
  // Each root's archive path and regular entries, in path order.
  std::map<const std::string*, std::pair<std::string_view, std::vector<size_t>>> roots;
  for (size_t i = 0; i < entries.size(); ++i) {
    const FileEntry& e = entries[i];
    if (!e.source_dir) continue;
    auto& root = roots[e.source_dir.get()];
    root.first = archive_root(e);
    // A restore set each mtime to the saved one after writing the content: a later write
    // moves it off that value, and putting it back moves the ctime the restore saw (it
    // waited out the clock tick of its newest). A ctime of whole seconds says the clock
    // ticks by seconds, too coarse for that.
    if (e.type != FileType::regular) continue;
    if ((carried && (*carried)[i]) ||
        (settled(e.mtime_sec, e.mtime_nsec) &&
         (by == RecordedBy::restore ? ctime_nsec(e) != 0 : settled(ctime_sec(e), ctime_nsec(e)))))
      root.second.push_back(i);
  }
  if (roots.empty()) return;
  if (Status st = make_dirs(place.dir); !st.ok()) {
    log_verbose("cannot keep file records: " + st.error().message);
    return;
  }
  remove_stale(place.dir, kAtomicTempPrefix);
  for (const auto& [source, root] : roots) {
    const auto& [archive, rows] = root;
    const std::string path = place.dir + "/" + record_name(*source, archive);
    if (rows.empty() || rows.size() > kMaxRecordedFiles) {  // nothing worth keeping
      ::unlink(path.c_str());
      continue;
    }
    std::string out(kMagic);
    put_text(out, *source);
    put_text(out, archive);
    const uint64_t count = rows.size();
    out.append(reinterpret_cast<const char*>(&count), 8);
    for (size_t i : rows) {
      const FileEntry& e = entries[i];
      put_text(out, below_root(e));
      Row row{e.dev,
              e.ino,
              e.size,
              e.mtime_sec,
              ctime_sec(e),
              prints[i].hash,
              prints[i].bytes,
              e.mtime_nsec,
              ctime_nsec(e),
              e.mode,
              0};
      out.append(reinterpret_cast<const char*>(&row), sizeof row);
    }
    const uint64_t sum = XXH3_64bits(out.data(), out.size());
    out.append(reinterpret_cast<const char*>(&sum), 8);
    if (out.size() > kMaxRecordBytes) {  // long paths: it would not be read back
      ::unlink(path.c_str());
      continue;
    }
    // Not synced: a record lost or cut short by a crash fails its checksum and counts as none.
    if (Status st = write_file_atomic(path, out, Durability::unsynced); !st.ok())
      log_verbose("cannot keep the file record " + path + ": " + st.error().message);
  }
  evict_old(place.dir);
}

}  // namespace regcache
