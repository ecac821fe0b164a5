// Every path is resolved one component at a time with openat(O_NOFOLLOW | O_DIRECTORY)
// from a directory descriptor of the staging location, so no symlink, whether it came
// from this archive, another layer extracted in parallel, or a racing process, is ever
// followed. Files are created with O_EXCL (a second entry for the same path is refused
// as a duplicate), written, then given their mode and nanosecond mtime through the open
// descriptor. Directory metadata is applied at the very end, because creating children
// changes a directory's mtime.
#include "regcache/archive/extractor.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "regcache/archive/safe_path.hpp"
#include "regcache/util/dir_path.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/file_entry.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/sink.hpp"

namespace regcache {

namespace {

timespec to_ts(int64_t sec, uint32_t nsec) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(sec);
  ts.tv_nsec = static_cast<long>(nsec);
  return ts;
}

std::string dir_of(const std::string& rel) {
  return std::string(archive_parent(rel));
}

std::string last_name(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

}  // namespace

void DirFixups::add(DirFixup f) {
  std::lock_guard lock(mu_);
  list_.push_back(std::move(f));
}

Status DirFixups::apply() {
  std::lock_guard lock(mu_);
  // Deepest first, depth counted once per directory rather than in every comparison.
  std::vector<std::pair<size_t, size_t>> order;  // (depth, index)
  for (size_t i = 0; i < list_.size(); ++i) {
    const auto& rel = list_[i].rel;
    order.emplace_back(rel.empty() ? 0 : std::count(rel.begin(), rel.end(), '/') + 1, i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  // Consecutive fix-ups in the same parent (siblings, mostly) share its descriptor.
  UniqueFd parent;
  int parent_base = -1;
  std::string parent_path;
  for (const auto& [depth, index] : order) {
    const DirFixup& f = list_[index];
    std::string path = f.rel.empty() ? f.staging_name : f.staging_name + "/" + f.rel;
    // Every component with O_NOFOLLOW: whoever owns the destination's parent may swap a
    // staged directory for a link while we work, and must not get a chmod of ours elsewhere.
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string name = path.substr(slash == std::string::npos ? 0 : slash + 1);
    if (!parent || parent_base != f.parent_fd || parent_path != dir) {
      auto opened = open_dir_below(f.parent_fd, dir);
      if (!opened.ok()) {
        return make_error(opened.error().kind,
                          "cannot open restored directory: " + opened.error().message);
      }
      parent = std::move(*opened);
      parent_base = f.parent_fd;
      parent_path = dir;
    }
    if (name.empty() || name == "." || name == "..")
      return make_error(ErrorKind::hostile, "unexpected '" + name + "' in " + path);
    UniqueFd fd(
        ::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return make_error(ErrorKind::hostile, "cannot open restored directory: " + path + ": " +
                                                  name + " is no longer the directory it was");
      }
      return errno_error("cannot open restored directory", path, errno);
    }
    ::fchmod(fd.get(), f.mode & 07777);
    timespec ts[2] = {to_ts(f.mtime_sec, f.mtime_nsec), to_ts(f.mtime_sec, f.mtime_nsec)};
    ::futimens(fd.get(), ts);
  }
  return {};
}

Extractor::Extractor(std::vector<ExtractRoot> roots, ExternalSymlinks symlinks, DirFixups* fixups)
    : roots_(std::move(roots)), symlinks_(symlinks), fixups_(fixups) {}

Extractor::~Extractor() {
  if (file_fd_ >= 0) ::close(file_fd_);
  close_chain(0);
  if (tail_fd_ >= 0) ::close(tail_fd_);
}

// Directories the chain keeps open at most: deeper ones are opened on each visit. Up to
// 64 extractors run at once (REGCACHE_JOBS), each holding its chain and two more, within
// a soft limit of 1,024 descriptors.
constexpr size_t kChainDepth = 8;

Result<int> Extractor::open_dir(const ExtractRoot& root, const std::string& rel_dir) {
  if (!root.unwritable.empty()) return make_error(ErrorKind::io, root.unwritable);
  // The chain keeps the directories of the last path open: the next path opens only the
  // components after the prefix they share (entries come in path order, so mostly one).
  if (chain_.empty() || chain_parent_ != root.parent_fd ||
      chain_.front().first != root.staging_name) {
    close_chain(0);
    if (tail_fd_ >= 0) ::close(tail_fd_);
    tail_fd_ = -1;
    int fd = ::openat(root.parent_fd, root.staging_name.c_str(),
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(root.parent_fd, root.staging_name.c_str(), 0700) != 0 && errno != EEXIST) {
        return errno_error("cannot create a staging directory for", root.prefix, errno);
      }
      fd = ::openat(root.parent_fd, root.staging_name.c_str(),
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0 && root.holds) root.holds->keep(fd);
    }
    if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
      return hostile_entry(root.prefix, "the cache root is not a directory here");
    if (fd < 0) return errno_error("cannot open the staging directory for", root.prefix, errno);
    chain_.emplace_back(root.staging_name, fd);
    chain_parent_ = root.parent_fd;
  }
  size_t depth = 1, pos = 0;  // chain_[depth] holds the component starting at pos
  int tail = -1;              // below the chain's depth limit: only the last is kept
  // The last directory returned below the chain, when this one is it or lies under it: a
  // deep tree then costs one open per directory, not one per component of each path.
  if (tail_fd_ >= 0 && rel_dir.starts_with(tail_path_) &&
      (rel_dir.size() == tail_path_.size() || rel_dir[tail_path_.size()] == '/')) {
    tail = tail_fd_;
    depth = chain_.size();
    pos = tail_path_.size() + 1;
  } else if (tail_fd_ >= 0) {
    ::close(tail_fd_);
  }
  tail_fd_ = -1;
  while (!rel_dir.empty() && pos <= rel_dir.size()) {
    size_t slash = rel_dir.find('/', pos);
    if (slash == std::string::npos) slash = rel_dir.size();
    std::string_view comp(rel_dir.data() + pos, slash - pos);
    pos = slash + 1;
    if (tail < 0 && depth < chain_.size() && chain_[depth].first == comp) {
      ++depth;
      continue;
    }
    if (tail < 0) close_chain(depth);
    int fd = tail >= 0 ? tail : chain_.back().second;
    std::string name(comp);
    int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT) {
      if (::mkdirat(fd, name.c_str(), 0755) != 0 && errno != EEXIST) {
        int err = errno;
        if (tail >= 0) ::close(tail);
        return errno_error("cannot create directory", root.prefix + "/" + rel_dir, err);
      }
      next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    int err = errno;
    if (tail >= 0) ::close(tail);
    tail = -1;
    if (next < 0) {
      if (err == ELOOP || err == ENOTDIR) {
        return hostile_entry(root.prefix + "/" + rel_dir, "path goes through a symlink or a file");
      }
      return errno_error("cannot open directory", root.prefix + "/" + rel_dir, err);
    }
    if (chain_.size() < kChainDepth) {
      chain_.emplace_back(std::move(name), next);
      ++depth;
    } else {
      tail = next;
    }
  }
  if (tail >= 0) {
    tail_path_ = rel_dir;
    return tail_fd_ = tail;
  }
  close_chain(depth);
  return chain_.back().second;
}

void Extractor::close_chain(size_t keep) {
  while (chain_.size() > keep) {
    ::close(chain_.back().second);
    chain_.pop_back();
  }
}

Status Extractor::make_entry(const ExtractRoot& root, const std::string& rel, const TarHeader& h) {
  if (!root.unwritable.empty()) return make_error(ErrorKind::io, root.unwritable);
  std::string shown = rel.empty() ? root.prefix : root.prefix + "/" + rel;
  int dfd = -1;
  std::string name;
  if (rel.empty()) {
    dfd = root.parent_fd;
    name = root.staging_name;
  } else {
    dfd = RC_TRY(open_dir(root, dir_of(rel)));
    name = last_name(rel);
  }
  switch (h.typeflag) {
    case '0':
    case '7': {
      int fd =
          ::openat(dfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0 && errno == EEXIST) return hostile_entry(shown, "duplicate path");
      if (fd < 0) return errno_error("cannot create", shown, errno);
      if (rel.empty() && root.holds) root.holds->keep(fd);
      file_fd_ = fd;
      file_path_ = shown;
      ++files_;
      return {};
    }
    case '5': {
      if (::mkdirat(dfd, name.c_str(), 0755) != 0 && errno != EEXIST) {
        return errno_error("cannot create directory", shown, errno);
      }
      struct stat st {};
      if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
        return hostile_entry(shown, "duplicate path");
      }
      if (rel.empty() && root.holds) {
        UniqueFd made(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (made) root.holds->keep(made.get());
      }
      if (!merged_dir_)
        fixups_->add({root.parent_fd, rel, root.staging_name, h.mode & ~mode_mask_, h.mtime_sec,
                      h.mtime_nsec});
      return {};
    }
    case '2': {
      // A save follows a root that is a symlink and stores what it points to, so an entry
      // whose root is itself a symlink was not made by regcache: placing it would swap a
      // directory of the job's for a link to anywhere.
      if (rel.empty()) return hostile_entry(shown, "the cache root is a symlink");
      if (symlinks_ == ExternalSymlinks::refuse && !symlink_stays_inside(rel, h.linkpath)) {
        return hostile_entry(shown, "symlink points outside the cache root (" + h.linkpath + ")");
      }
      if (::symlinkat(h.linkpath.c_str(), dfd, name.c_str()) != 0) {
        if (errno == EEXIST) return hostile_entry(shown, "duplicate path");
        return errno_error("cannot create symlink", shown, errno);
      }
      timespec ts[2] = {to_ts(h.mtime_sec, h.mtime_nsec), to_ts(h.mtime_sec, h.mtime_nsec)};
      ::utimensat(dfd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
      return {};
    }
    case '1': {
      auto target = normalize_archive_path(h.linkpath);
      // Checked before anything else, a partial restore's skipped links included.
      if (target && mask_ && mask_->visibility(layer_, *target, false) == Visibility::hidden)
        return hostile_entry(shown,
                             "hard link to a file a layer above replaces (" + h.linkpath + ")");
      if (target && mask_ && role_ == LayerRole::delta && !mask_->holds_file(layer_, *target))
        return hostile_entry(shown, "hard link target not in this layer: " + h.linkpath);
      std::string prefix = root.prefix + "/";
      if (!target || target->compare(0, prefix.size(), prefix) != 0) {
        std::string scope = root.scope + "/";
        if (target && !root.scope.empty() && target->compare(0, scope.size(), scope) == 0) {
          skipped_bytes_ += shown.size() + target->size();
          if (skipped_bytes_ > kMaxSkippedLinkBytes)
            return hostile_entry(shown, "too many hard links into parts of the root not restored");
          skipped_links_.push_back({shown, *target});  // its content lies in a part not restored
          return {};
        }
        return hostile_entry(shown, "hard link points outside the cache root (" + h.linkpath + ")");
      }
      std::string trel = target->substr(prefix.size());
      // A root that is a file and a link to a path below itself: the link would be made
      // inside the staging location, under the staging name.
      if (rel.empty()) return hostile_entry(shown, "the cache root is a hard link into itself");
      int tfd = RC_TRY(open_dir(root, dir_of(trel)));
      UniqueFd tdup(::dup(tfd));  // open_dir below may close the descriptor it returned
      if (!tdup) return errno_error("cannot create hard link", shown, errno);
      RC_CHECK(check_linked_symlink(tdup.get(), last_name(trel), rel, shown));
      dfd = RC_TRY(open_dir(root, dir_of(rel)));
      int r = ::linkat(tdup.get(), last_name(trel).c_str(), dfd, name.c_str(), 0);
      int err = errno;
      if (r != 0) {
        if (err == EEXIST) return hostile_entry(shown, "duplicate path");
        if (err == ENOENT)
          return hostile_entry(shown, "hard link target not in this layer: " + h.linkpath);
        return errno_error("cannot create hard link", shown, err);
      }
      ++files_;
      return {};
    }
    case '3':
    case '4':
      return hostile_entry(shown, "device node");
    case '6':
      return hostile_entry(shown, "FIFO");
    default:
      return hostile_entry(shown, std::string("unsupported tar entry type '") + h.typeflag + "'");
  }
}

// Creating names from several threads at once makes them contend on the parent
// directory's lock in the kernel (measured: four layers in parallel spent 3.6 s of system
// time restoring node_modules, one layer at a time 0.3 s). Layers still download, verify
// and decompress in parallel, and file contents are written in parallel; only the
// creation of names is serialized.
std::mutex& creation_mutex() {
  static std::mutex mu;
  return mu;
}

// A hard link to a symlink is a second name for it: where external symlinks are refused,
// its target is checked again from the new place (it was checked only from the first).
Status Extractor::check_linked_symlink(int dir_fd, const std::string& name, const std::string& rel,
                                       const std::string& shown) const {
  if (symlinks_ != ExternalSymlinks::refuse) return {};
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode))
    return {};  // linkat reports a missing target
  const std::string target = RC_TRY(read_link_at(dir_fd, name, shown));
  if (!symlink_stays_inside(rel, target))
    return hostile_entry(shown,
                         "hard link to a symlink that points outside the cache root from "
                         "there (" +
                             target + ")");
  return {};
}

Status Extractor::begin(const TarHeader& h) {
  current_ = h;
  holed_ = false;
  last_written_.reset();
  auto path = normalize_archive_path(h.path);
  if (!path)
    return hostile_entry(h.path.substr(0, 200),
                         archive_path_too_deep(h.path)
                             ? "more than " + std::to_string(kMaxPathDepth) + " levels deep"
                             : std::string("unsafe path"));
  if (h.mode & 06000) return hostile_entry(*path, "setuid or setgid bit");
  // A regular file's bytes are bounded by the layer's declared size; a sparse file's holes
  // are not, so its size is checked against the size the entry declares for all its files.
  if (h.sparse && h.size > max_file_size_)
    return hostile_entry(*path, "sparse file larger than the entry declares for all its files");
  merged_dir_ = false;
  if (role_ == LayerRole::delta && RC_TRY(whiteout_of(*path))) return {};  // a marker
  if (mask_) {
    auto seen = mask_->visibility(layer_, *path, h.typeflag == '5');
    if (seen == Visibility::hidden) return {};
    merged_dir_ = seen == Visibility::merged_dir;
  }
  std::lock_guard lock(creation_mutex());
  for (const auto& root : roots_) {
    const bool below = path->size() > root.prefix.size() &&
                       path->compare(0, root.prefix.size(), root.prefix) == 0 &&
                       (*path)[root.prefix.size()] == '/';
    if (root.shape == RootShape::regular_file &&
        (below || (*path == root.prefix && h.typeflag != '0' && h.typeflag != '7')))
      return hostile_entry(*path, "a hard link's target is not a regular file");
    if (*path == root.prefix) return make_entry(root, "", h);
    if (below) {
      return make_entry(root, path->substr(root.prefix.size() + 1), h);
    }
  }
  return {};  // not under a root being restored
}

Status Extractor::data(const char* bytes, size_t size) {
  if (file_fd_ < 0) return {};
  RC_CHECK(FdSink(file_fd_, file_path_).write(bytes, size));
  bytes_ += size;
  return {};
}

Status Extractor::hole(uint64_t size) {
  if (file_fd_ < 0) return {};
  holed_ = true;
  if (::lseek(file_fd_, static_cast<off_t>(size), SEEK_CUR) < 0)
    return errno_error("cannot write", file_path_, errno);
  bytes_ += size;
  return {};
}

Status Extractor::end() {
  if (file_fd_ < 0) return {};
  int fd = file_fd_;
  file_fd_ = -1;
  Status st;
  // A file that ends in a hole gets its size from its length, not from a last write.
  if (current_.sparse && ::ftruncate(fd, static_cast<off_t>(current_.size)) != 0)
    st = errno_error("cannot write", file_path_, errno);
  if (st.ok() && ::fchmod(fd, current_.mode & 0777 & ~mode_mask_) != 0)
    st = errno_error("cannot chmod", file_path_, errno);
  timespec ts[2] = {to_ts(current_.mtime_sec, current_.mtime_nsec),
                    to_ts(current_.mtime_sec, current_.mtime_nsec)};
  if (st.ok() && ::futimens(fd, ts) != 0) st = errno_error("cannot set mtime", file_path_, errno);
  struct stat done {};
  if (st.ok() && keep_stats_ && !holed_ && ::fstat(fd, &done) == 0)
    last_written_ = WrittenFile{file_path_, done};
  if (::close(fd) != 0 && st.ok()) {
    st = errno_error("cannot write", file_path_, errno);
    last_written_.reset();
  }
  return st;
}

}  // namespace regcache
