#include "regcache/util/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

// A directory still to read, held open: it was opened relative to its parent with
// O_NOFOLLOW, so no path component is resolved twice (or swapped for a symlink between).
struct PendingDir {
  UniqueFd fd;
  std::string archive;
  size_t depth = 0;  // components of archive
};

// Entries in chunks of a few thousand: gathering a million never holds a vector beside its
// regrown copy, and they move into the result a chunk at a time (each freed as it goes).
class Chunks {
 public:
  void push(FileEntry e) {
    if (chunks_.empty() || chunks_.back().size() == kChunk) chunks_.emplace_back();
    chunks_.back().push_back(std::move(e));
    ++size_;
  }
  FileEntry& back() { return chunks_.back().back(); }
  void pop_back() {
    chunks_.back().pop_back();
    if (chunks_.back().empty()) chunks_.pop_back();
    --size_;
  }
  size_t size() const { return size_; }
  // Moves every entry to the end of `out`, in order.
  void move_to(std::vector<FileEntry>& out) {
    for (auto& c : chunks_) {
      out.insert(out.end(), std::make_move_iterator(c.begin()), std::make_move_iterator(c.end()));
      std::vector<FileEntry>().swap(c);
    }
    chunks_.clear();
    size_ = 0;
  }

 private:
  static constexpr size_t kChunk = 4096;
  std::vector<std::vector<FileEntry>> chunks_;
  size_t size_ = 0;
};

// Directories are read depth-first by each thread; a thread hands a subdirectory to the
// shared queue only while another thread waits for work, so at most a few directories per
// thread are held open however wide the tree is.
class Walker {
 public:
  Walker(const ExcludeFn& exclude, std::shared_ptr<const std::string> root_dir,
         uint32_t archive_root_len, size_t threads)
      : exclude_(exclude),
        root_dir_(std::move(root_dir)),
        archive_root_len_(archive_root_len),
        threads_(std::max<size_t>(threads, 1)) {}

  // Lists `source` itself and, when it is a directory, everything below it.
  Result<std::vector<FileEntry>> run(const std::string& source, const std::string& archive) {
    std::vector<Chunks> found(threads_);
    bool is_dir = false;
    RC_CHECK(visit(AT_FDCWD, source.c_str(), archive, found[0], &is_dir));
    std::vector<FileEntry> out;
    if (!is_dir) {
      found[0].move_to(out);
      return out;
    }
    UniqueFd fd(
        ::openat(AT_FDCWD, source.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return errno_error("cannot read directory", source, errno);
    queue_.push_back({std::move(fd), archive,
                      static_cast<size_t>(std::count(archive.begin(), archive.end(), '/')) + 1});
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < threads_; ++t) {
      try {
        helpers.emplace_back([this, &found, t] { work(found[t]); });
      } catch (const std::system_error&) {  // no thread to spare: fewer walk
        break;
      }
    }
    work(found[0]);
    for (auto& h : helpers) h.join();
    RC_CHECK(error_);
    size_t total = 0;
    for (const auto& f : found) total += f.size();
    out.reserve(total);  // exactly: a million entries take 150 MiB
    for (auto& f : found) f.move_to(out);
    return out;
  }

 private:
  // Takes directories from the queue until none is left and no thread may add one.
  void work(Chunks& out) {
    for (;;) {
      PendingDir d;
      {
        std::unique_lock lock(mu_);
        ++idle_;
        ready_.wait(lock, [&] { return !queue_.empty() || busy_ == 0 || !error_.ok(); });
        --idle_;
        if (queue_.empty() || !error_.ok()) {
          ready_.notify_all();
          return;
        }
        d = std::move(queue_.front());
        queue_.pop_front();
        ++busy_;
      }
      Status st = read_dir(std::move(d), out);
      std::lock_guard lock(mu_);
      --busy_;
      if (!st.ok() && error_.ok()) {
        error_ = st;
        failed_ = true;
      }
      ready_.notify_all();
    }
  }

  // Returns true when an idle thread could take a directory now.
  bool wanted() {
    if (threads_ == 1) return false;
    std::lock_guard lock(mu_);
    return idle_ > 0 && queue_.size() < threads_ && error_.ok();
  }

  Status read_dir(PendingDir d, Chunks& out) {
    RC_CHECK(check_interrupted());
    if (failed_) return {};  // another thread's error ends the walk
    DIR* dir = ::fdopendir(d.fd.get());
    if (!dir) return errno_error("cannot read directory", source_of(d.archive), errno);
    d.fd.release();  // closedir closes it
    std::vector<std::string> names;
    int err = 0;
    for (;;) {
      errno = 0;
      auto* ent = ::readdir(dir);
      if (!ent) {
        err = errno;
        break;
      }
      const char* n = ent->d_name;
      if (std::strcmp(n, ".") != 0 && std::strcmp(n, "..") != 0) names.emplace_back(n);
    }
    if (err != 0) {  // a listing cut short would leave files out of the entry
      ::closedir(dir);
      return errno_error("cannot read directory", source_of(d.archive), err);
    }
    Status st;
    for (const auto& n : names) {
      std::string archive = d.archive + "/" + n;
      if (exclude_ && exclude_(archive.substr(archive_root_len_ + 1))) continue;
      if (n.rfind(kStagePrefix, 0) == 0) {  // a restore's staging, in or left by a killed one
        log_verbose("skipping " + source_of(archive) + ": a restore's staging directory");
        continue;
      }
      if (d.depth + 1 > kMaxPathDepth) {
        st = make_error(ErrorKind::unsupported, "cannot save " +
                                                    source_of(d.archive).substr(0, 200) +
                                                    "/...: the tree is more than " +
                                                    std::to_string(kMaxPathDepth) + " levels deep");
        break;
      }
      bool is_dir = false;
      st = visit(::dirfd(dir), n.c_str(), std::move(archive), out, &is_dir);
      if (!st.ok()) break;
      if (!is_dir) continue;
      PendingDir child{UniqueFd(::openat(::dirfd(dir), n.c_str(),
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)),
                       out.back().path, d.depth + 1};
      if (!child.fd && errno == ENOENT) {  // removed since it was listed: left out, as above
        log_warning("skipping " + source_of(child.archive) + ": removed while saving");
        out.pop_back();
        continue;
      }
      if (!child.fd) {
        st = errno_error("cannot read directory", source_of(child.archive), errno);
        break;
      }
      if (wanted()) {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(child));
        ready_.notify_one();
      } else {
        st = read_dir(std::move(child), out);
        if (!st.ok()) break;
      }
    }
    ::closedir(dir);
    return st;
  }

  // Returns where the object with this archive path is on disk (for messages).
  std::string source_of(std::string_view archive) const {
    return *root_dir_ + std::string(archive.substr(archive_root_len_));
  }

  // Lists one object, found as `name` relative to the descriptor `at` (a full path per
  // file would make the kernel walk every component again).
  Status visit(int at, const char* name, std::string archive, Chunks& out, bool* is_dir) {
    struct stat st {};
    if (::fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      // Listed, then removed (a build's temporary file): not part of the tree any more.
      if (errno == ENOENT && at != AT_FDCWD) {
        log_warning("skipping " + source_of(archive) + ": removed while saving");
        return {};
      }
      return errno_error("cannot stat", source_of(archive), errno);
    }
    FileEntry e;
    e.source_dir = root_dir_;
    e.archive_root_len = archive_root_len_;
    e.mode = st.st_mode & 07777;
    e.mtime_sec = st.st_mtim.tv_sec;
    e.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
    e.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000ll + st.st_ctim.tv_nsec;
    e.dev = st.st_dev;
    e.ino = st.st_ino;
    e.nlink = static_cast<uint8_t>(std::min<nlink_t>(st.st_nlink, 255));
    if (S_ISREG(st.st_mode)) {
      e.type = FileType::regular;
      e.size = static_cast<uint64_t>(st.st_size);
    } else if (S_ISLNK(st.st_mode)) {
      e.type = FileType::symlink;
      e.link_target = RC_TRY(read_link_at(at, name, source_of(archive)));
    } else if (S_ISDIR(st.st_mode)) {
      e.type = FileType::directory;
      *is_dir = true;
    } else {
      log_warning("skipping special file " + source_of(archive));
      return {};
    }
    e.path = std::move(archive);
    out.push(std::move(e));
    return {};
  }

  const ExcludeFn& exclude_;
  std::shared_ptr<const std::string> root_dir_;
  uint32_t archive_root_len_;
  size_t threads_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<PendingDir> queue_;
  size_t idle_ = 0, busy_ = 0;
  Status error_;
  std::atomic<bool> failed_{false};
};

void mark_hardlinks(std::vector<FileEntry>& entries) {
  std::map<std::pair<uint64_t, uint64_t>, std::string> first;
  for (auto& e : entries) {
    if (e.type != FileType::regular || e.nlink < 2) continue;
    auto [it, inserted] = first.emplace(std::make_pair(e.dev, e.ino), e.path);
    if (!inserted) {
      e.type = FileType::hardlink;
      e.link_target = it->second;
      e.size = 0;
    }
  }
}

}  // namespace

Result<std::vector<FileEntry>> walk_tree(const std::string& source, const std::string& archive_root,
                                         const ExcludeFn& exclude, size_t threads) {
  Walker w(exclude, std::make_shared<const std::string>(source),
           static_cast<uint32_t>(archive_root.size()), threads);
  auto out = RC_TRY(w.run(source, archive_root));
  std::sort(out.begin(), out.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  mark_hardlinks(out);
  return out;
}

}  // namespace regcache
