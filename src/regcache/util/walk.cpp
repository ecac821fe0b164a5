#include "regcache/util/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "regcache/util/fs.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/log.hpp"

namespace regcache {

namespace {

struct Walker {
  const ExcludeFn& exclude;
  std::shared_ptr<const std::string> root_dir;
  uint32_t archive_root_len;
  std::vector<FileEntry> out;

  // Names are resolved relative to the parent directory's descriptor (`at`, `name`):
  // a full path per file would make the kernel walk every component again.
  Status visit(int at, const char* name, const std::string& source, const std::string& archive,
               const std::string& rel) {
    struct stat st {};
    if (::fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      return errno_error("cannot stat", source, errno);
    FileEntry e;
    e.path = archive;
    e.source_dir = root_dir;
    e.archive_root_len = archive_root_len;
    e.mode = st.st_mode & 07777;
    e.mtime_sec = st.st_mtim.tv_sec;
    e.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
    e.dev = st.st_dev;
    e.ino = st.st_ino;
    e.nlink = static_cast<uint32_t>(st.st_nlink);
    if (S_ISREG(st.st_mode)) {
      e.type = FileType::regular;
      e.size = static_cast<uint64_t>(st.st_size);
    } else if (S_ISLNK(st.st_mode)) {
      e.type = FileType::symlink;
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(at, name, target.data(), target.size());
      if (n < 0) return errno_error("cannot read symlink", source, errno);
      target.resize(static_cast<size_t>(n));
      e.link_target = target;
    } else if (S_ISDIR(st.st_mode)) {
      e.type = FileType::directory;
    } else {
      log_warning("skipping special file " + source);
      return {};
    }
    out.push_back(std::move(e));
    return S_ISDIR(st.st_mode) ? visit_dir(at, name, source, archive, rel) : Status{};
  }

  Status visit_dir(int at, const char* name, const std::string& source, const std::string& archive,
                   const std::string& rel) {
    RC_CHECK(check_interrupted());
    int fd = ::openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR* d = fd < 0 ? nullptr : ::fdopendir(fd);
    if (!d) {
      int err = errno;
      if (fd >= 0) ::close(fd);
      return errno_error("cannot read directory", source, err);
    }
    std::vector<std::string> names;
    while (auto* ent = ::readdir(d)) {
      std::string n = ent->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    std::sort(names.begin(), names.end());
    Status st;
    for (const auto& n : names) {
      std::string child_rel = rel.empty() ? n : rel + "/" + n;
      if (exclude && exclude(child_rel)) continue;
      st = visit(::dirfd(d), n.c_str(), source + "/" + n, archive + "/" + n, child_rel);
      if (!st.ok()) break;
    }
    ::closedir(d);
    return st;
  }
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
                                         const ExcludeFn& exclude) {
  Walker w{exclude,
           std::make_shared<const std::string>(source),
           static_cast<uint32_t>(archive_root.size()),
           {}};
  RC_CHECK(w.visit(AT_FDCWD, source.c_str(), source, archive_root, ""));
  std::sort(w.out.begin(), w.out.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  mark_hardlinks(w.out);
  return std::move(w.out);
}

}  // namespace regcache
