#include "regcache/core/restore_records.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "regcache/archive/safe_path.hpp"
#include "regcache/archive/tar_writer.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

struct PrintingHandler::Hashing {
  FileEntry predicted;  // the file as the save's walk will see it
  FingerprintSink sink{nullptr};
  TarWriter tar{&sink};
};

PrintingHandler::PrintingHandler(Extractor& x, uint32_t mode_mask, RestoredPrints& out)
    : x_(x), mode_mask_(mode_mask), out_(out) {}

PrintingHandler::~PrintingHandler() = default;

Status PrintingHandler::begin(const TarHeader& h) {
  hashing_.reset();
  RC_CHECK(x_.begin(h));
  if (h.typeflag == '1') {
    if (auto target = normalize_archive_path(h.linkpath)) out_.linked(*target);
    return {};
  }
  if ((h.typeflag != '0' && h.typeflag != '7') || h.sparse || !x_.writing_file()) return {};
  auto path = normalize_archive_path(h.path);
  if (!path) return {};
  auto hashing = std::make_unique<Hashing>();
  FileEntry& e = hashing->predicted;
  e.path = *path;
  e.type = FileType::regular;
  e.mode = h.mode & 0777 & ~mode_mask_;  // as the extractor sets it
  e.size = h.size;
  e.mtime_sec = h.mtime_sec;
  e.mtime_nsec = h.mtime_nsec;
  if (!hashing->tar.begin_regular(e).ok()) return {};
  hashing_ = std::move(hashing);
  return {};
}

Status PrintingHandler::data(const char* bytes, size_t size) {
  RC_CHECK(x_.data(bytes, size));
  if (hashing_ && !hashing_->sink.write(bytes, size).ok()) hashing_.reset();
  return {};
}

Status PrintingHandler::hole(uint64_t size) {
  hashing_.reset();  // a save finds the holes itself: its entry may differ
  return x_.hole(size);
}

Status PrintingHandler::end() {
  RC_CHECK(x_.end());
  auto hashing = std::move(hashing_);
  const auto& written = x_.last_written();
  if (!hashing || !written) return {};
  FileEntry& e = hashing->predicted;
  const struct stat& st = written->st;
  // Only a file that is what the entry says: a save would otherwise write another header.
  if (written->path != e.path || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != e.mode ||
      static_cast<uint64_t>(st.st_size) != e.size || st.st_mtim.tv_sec != e.mtime_sec ||
      static_cast<uint32_t>(st.st_mtim.tv_nsec) != e.mtime_nsec || st.st_nlink != 1)
    return {};
  if (!hashing->tar.end_regular(e.size).ok()) return {};
  e.dev = st.st_dev;
  e.ino = st.st_ino;
  e.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000ll + st.st_ctim.tv_nsec;
  out_.add(std::move(e), hashing->sink.take_entry());
  return {};
}

void RestoredPrints::reserve(size_t files) {
  std::lock_guard lock(mu_);
  files_.reserve(std::min(files, kMaxRestoredFiles));
}

void RestoredPrints::add(FileEntry e, EntryPrint print) {
  std::lock_guard lock(mu_);
  if (files_.size() >= kMaxRestoredFiles) {
    too_many_ = true;
    files_.clear();
    files_.shrink_to_fit();
  }
  if (!too_many_) files_.emplace_back(std::move(e), print);
}

void RestoredPrints::linked(std::string path) {
  std::lock_guard lock(mu_);
  linked_.push_back(std::move(path));
}

void RestoredPrints::record(const FileRecordPlace& place,
                            const std::vector<std::pair<std::string, std::string>>& placed_roots,
                            TimePoint started) {
  std::lock_guard lock(mu_);
  if (place.dir.empty() || too_many_) return;
  std::sort(files_.begin(), files_.end(),
            [](const auto& a, const auto& b) { return a.first.path < b.first.path; });
  std::sort(linked_.begin(), linked_.end());
  TimePoint wait_until{};
  for (const auto& [dest, archive] : placed_roots) {
    // Keyed as a save's walk keys it: a root that is a symlink by what it points to.
    std::string source = dest;
    struct stat st {};
    if (::lstat(dest.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      char* real = ::realpath(dest.c_str(), nullptr);
      if (!real) continue;
      source = real;
      ::free(real);
    }
    auto dir = std::make_shared<const std::string>(source);
    std::vector<FileEntry> entries;
    std::vector<EntryPrint> prints;
    entries.reserve(files_.size());  // grown by doubling, each copy is fresh memory to map
    prints.reserve(files_.size());
    for (auto& [e, print] : files_) {  // each file lies under one root: moved, not copied
      if (e.path != archive && !(e.path.size() > archive.size() && e.path.starts_with(archive) &&
                                 e.path[archive.size()] == '/'))
        continue;
      if (std::binary_search(linked_.begin(), linked_.end(), e.path)) continue;
      entries.push_back(std::move(e));
      entries.back().source_dir = dir;
      entries.back().archive_root_len = static_cast<uint32_t>(archive.size());
      prints.push_back(print);
    }
    if (entries.empty()) continue;
    // It returns a clock tick past the newest ctime recorded: a change a later step makes
    // then moves it. The wait runs after the record is written.
    int64_t newest = 0;
    for (const auto& e : entries) newest = std::max(newest, e.ctime_ns);
    const TimePoint ready{std::chrono::duration_cast<TimePoint::duration>(
        std::chrono::nanoseconds(newest) + place.racy_tick)};
    const TimePoint now = std::chrono::system_clock::now();
    if (ready > now + place.racy_tick) {  // a ctime ahead of the clock: nothing to rely on
      log_verbose("not recording the restored files of " + archive + ": their times lie ahead");
      continue;
    }
    wait_until = std::max(wait_until, ready);
    record_prints(place, entries, prints, started, RecordedBy::restore);
    log_verbose(std::to_string(entries.size()) + " restored files recorded for the next save of " +
                archive);
  }
  if (wait_until > std::chrono::system_clock::now()) std::this_thread::sleep_until(wait_until);
}

}  // namespace regcache
