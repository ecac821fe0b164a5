#include "regcache/core/staging.hpp"

#include <algorithm>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "regcache/core/merge.hpp"
#include "regcache/core/place.hpp"
#include "regcache/util/dir_path.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

namespace {

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string file_name_of(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

// Removes the directories from `dir` up to `top` (included) that are empty.
void remove_empty_parents(std::string dir, const std::string& top) {
  while (!top.empty() && dir.size() >= top.size() && ::rmdir(dir.c_str()) == 0)
    dir = parent_of(dir);
}

// Returns why the staging location of the existing directory parent_fd/name goes inside
// it (a volume mounted there; a parent this process may not write in, a directory it may),
// or nothing when it goes beside it.
std::string stage_inside_because(int parent_fd, const std::string& name) {
  struct stat st {};
  if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
    return "";
  if (is_mount_root_at(parent_fd, name)) return "is a mount point";
  if (::faccessat(parent_fd, ".", W_OK | X_OK, AT_EACCESS) != 0 &&
      ::faccessat(parent_fd, name.c_str(), W_OK | X_OK, AT_EACCESS) == 0)
    return "is in a directory this process may not write in";
  return "";
}

}  // namespace

Result<Staging> Staging::prepare(std::vector<StageTarget> targets) {
  Staging out;
  for (auto& t : targets) {
    if (t.dest.empty() || t.dest[0] != '/' || t.dest == "/")
      return make_error(ErrorKind::hostile,
                        "refusing to restore onto " + (t.dest.empty() ? "nothing" : t.dest));
    Slot slot;
    auto opened = open_directory(parent_of(t.dest), MissingDirs::create);
    if (!opened.ok() && !t.scope.empty()) {
      // A path inside a root whose directory cannot be made (under a directory of another
      // user's): a miss when the entry does not hold it, an error naming why when it does.
      slot.target = t;
      slot.unwritable = "cannot restore " + t.dest + ": " + opened.error().message;
      slot.name = owned_temp_name(kStagePrefix);
      out.slots_.push_back(std::move(slot));
      continue;
    }
    auto parent = RC_TRY(std::move(opened));
    std::string name = file_name_of(t.dest);
    struct stat st {};
    if (::fstatat(parent.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode) && ::fstatat(parent.fd.get(), name.c_str(), &st, 0) == 0 &&
        S_ISDIR(st.st_mode)) {
      // A target/ on another disk: restore into the directory it points to; the link stays.
      auto real = RC_TRY(open_directory(parent.path + "/" + name, MissingDirs::error));
      log_verbose("restoring " + t.dest + " into " + real.path + ", where its symlink points");
      if (real.path == "/") return make_error(ErrorKind::hostile, "refusing to restore onto /");
      std::string created = parent.created_from;
      parent = RC_TRY(open_directory(parent_of(real.path), MissingDirs::error));
      parent.created_from = created;
      name = file_name_of(real.path);
    }
    t.dest = (parent.path == "/" ? "" : parent.path) + "/" + name;
    slot.target = t;
    slot.created_from = parent.created_from;
    if (auto why = stage_inside_because(parent.fd.get(), name); !why.empty()) {
      // Nothing can be made beside the destination, or moved from there into it: the staging
      // location goes inside it, and its contents move in entry by entry.
      UniqueFd inner = open_dir_at(parent.fd.get(), name);
      if (!inner) return errno_error("cannot open", t.dest, errno);
      log_verbose(t.dest + " " + why + ": staging inside it");
      slot.parent = std::move(inner);
      slot.inside = why;
      if (::fstat(slot.parent.get(), &st) != 0) return errno_error("cannot stat", t.dest, errno);
      slot.dest_times[0] = st.st_atim;
      slot.dest_times[1] = st.st_mtim;
      remove_stale(t.dest, kStagePrefix);
    } else {
      // Said before anything is downloaded, naming the directory rather than the entry's path;
      // not for a path inside a root, which the entry may not hold (then it is a miss, and
      // nothing is written there; when it is held, extraction fails naming it).
      if (t.scope.empty() && ::faccessat(parent.fd.get(), ".", W_OK | X_OK, AT_EACCESS) != 0)
        return errno_error("cannot restore " + t.dest + ": cannot write in", parent.path, errno);
      slot.parent = std::move(parent.fd);
      remove_stale(parent_of(t.dest), kStagePrefix);  // left by a killed restore
    }
    slot.name = owned_temp_name(kStagePrefix);
    out.slots_.push_back(std::move(slot));  // (on a later failure, ~Staging removes its parents)
  }
  out.drop_nested();
  return out;
}

// Two roots whose destinations resolve one inside the other (the job's `target -> build/sub`
// and an entry holding both): placing the outer one swaps out the inner one's staging, so
// the inner one is left to the outer one, which holds what the save read there.
void Staging::drop_nested() {
  for (size_t i = 0; i < slots_.size();) {
    const Slot& s = slots_[i];
    auto outer = std::find_if(slots_.begin(), slots_.end(), [&](const Slot& o) {
      if (&o == &s || !o.parent || !s.parent) return false;
      const std::string& a = s.target.dest;
      const std::string& b = o.target.dest;
      return a.rfind(b + "/", 0) == 0 || (a == b && &o < &s);
    });
    if (outer == slots_.end()) {
      ++i;
      continue;
    }
    log_warning("not restoring " + s.target.prefix + " on its own: it resolves to " +
                s.target.dest + ", which " + outer->target.prefix + " (" + outer->target.dest +
                ") restores too");
    slots_[i].done = true;
    slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

Staging::~Staging() {
  for (size_t i = 0; i < slots_.size(); ++i) drop(i);
}

std::vector<ExtractRoot> Staging::extract_roots() const {
  std::vector<ExtractRoot> roots;
  for (const auto& s : slots_)
    roots.push_back(
        {s.target.prefix, s.parent.get(), s.name, s.target.scope, holds_.get(), s.unwritable});
  return roots;
}

bool Staging::holds(size_t i) const {
  if (!slots_[i].parent) return false;  // (nothing could be made for it)
  struct stat st {};
  return ::fstatat(slots_[i].parent.get(), slots_[i].name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

Status Staging::check_destinations() const {
  for (const auto& s : slots_) {
    struct stat st {
    }, d{};
    if (::fstatat(s.parent.get(), s.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!s.inside.empty()) {
      if (S_ISDIR(st.st_mode)) continue;
      return make_error(ErrorKind::io, s.target.dest + " " + s.inside +
                                           ", but the cache holds a file there; restore it "
                                           "elsewhere");
    }
    const std::string name = file_name_of(s.target.dest);
    if (::fstatat(s.parent.get(), name.c_str(), &d, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode) && !S_ISDIR(d.st_mode)) {
      return make_error(ErrorKind::io,
                        s.target.dest +
                            " exists and is not a directory, but the cache holds a directory "
                            "there; remove it to restore");
    }
    if (!S_ISDIR(st.st_mode) && S_ISDIR(d.st_mode) && !is_empty_dir_at(s.parent.get(), name))
      return make_error(ErrorKind::io, replaced_dir_message(s.target.dest));
  }
  return slots_.size() > 1 ? check_merges() : Status{};
}

Status Staging::check_merges() const {
  for (const auto& s : slots_) {
    UniqueFd staged = open_dir_at(s.parent.get(), s.name);
    if (!staged) continue;  // nothing staged, or a file: checked above
    UniqueFd existing = s.inside.empty() ? open_dir_at(s.parent.get(), file_name_of(s.target.dest))
                                         : open_dir_at(s.parent.get(), ".");
    if (!existing && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
      continue;  // absent, or what a rename replaces (a file here was refused above)
    if (!existing) return errno_error("cannot open", s.target.dest, errno);
    RC_CHECK(check_merge(staged.get(), existing.get(), s.target.dest));
  }
  return {};
}

Status Staging::place(size_t i) {
  Slot& s = slots_[i];
  Status st = !s.inside.empty() ? place_staged_inside(s.parent.get(), s.name, s.target.dest)
                                : place_staged(s.parent.get(), s.name, s.target.dest);
  if (st.ok()) s.done = true;
  return st;
}

void Staging::drop(size_t i) {
  Slot& s = slots_[i];
  if (s.done || !s.parent) return;
  s.done = true;
  (void)remove_tree_at(s.parent.get(), s.name, s.target.dest);
  if (!s.inside.empty()) ::futimens(s.parent.get(), s.dest_times);  // as it was before staging
  remove_empty_parents(parent_of(s.target.dest), s.created_from);
}

}  // namespace regcache
