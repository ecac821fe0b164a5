#include "regcache/store/oci_layout/layout_store.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <vector>

#include "regcache/oci/media_types.hpp"
#include "regcache/store/oci_layout/layout_lock.hpp"
#include "regcache/util/clock.hpp"
#include "regcache/util/dir_path.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/file_copy.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/interrupt.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"
#include "regcache/util/stale.hpp"

namespace regcache {

using nlohmann::json;

namespace {

constexpr const char* kRefName = "org.opencontainers.image.ref.name";

constexpr const char* kAnnoLastUsed = "dev.regcache.last-used";
constexpr size_t kMaxIndexBytes = 256 << 20;  // some 800,000 entries

// Checks what the rest of this file relies on in an index.json entry: an object with a
// string digest (get_manifest only follows valid sha256 ones into blobs/) and a string ref
// name, if any. Anything else would throw from the JSON accessors.
bool valid_index_entry(const json& m) {
  if (!m.is_object() || !m.contains("digest") || !m["digest"].is_string()) return false;
  if (!m.contains("annotations")) return true;
  const json& a = m["annotations"];
  return a.is_object() && (!a.contains(kRefName) || a[kRefName].is_string());
}

class LayoutStore : public Store, public UsageRecords {
 public:
  LayoutStore(std::string root, std::optional<SteadyClock> deadline, LockWait wait)
      : root_(std::move(root)), deadline_(deadline), wait_(wait) {}

  // Opens an existing layout without writing anything: its directory (symlinks on the way
  // only under the protected-symlinks rule), then blobs/sha256 with no symlink at all.
  Status open_existing() {
    auto dir = open_directory(root_, MissingDirs::error);
    if (!dir.ok() && dir.error().kind == ErrorKind::not_found)
      return make_error(ErrorKind::not_found, "no store at " + describe());
    root_fd_ = std::move(RC_TRY(std::move(dir)).fd);
    struct stat st {};
    if (::fstatat(root_fd_.get(), "oci-layout", &st, AT_SYMLINK_NOFOLLOW) != 0 &&
        ::fstatat(root_fd_.get(), "index.json", &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return make_error(ErrorKind::not_found, "no store at " + describe());
    }
    if (auto blobs = open_dir_below(root_fd_.get(), "blobs/sha256"); blobs.ok())
      blobs_fd_ = std::move(*blobs);
    return {};
  }

  // Removes what killed runs left (best effort: a read-only layout keeps them).
  void clear_leftovers() const {
    remove_stale(root_, kAtomicTempPrefix);
    remove_stale(root_ + "/blobs/sha256", kAtomicTempPrefix);
  }

  // Opens the layout, creating what is missing of it.
  Status init() {
    root_fd_ = std::move(RC_TRY(open_directory(root_, MissingDirs::create)).fd);
    for (const char* dir : {"blobs", "blobs/sha256"}) {
      if (::mkdirat(root_fd_.get(), dir, 0755) != 0 && errno != EEXIST)
        return errno_error("cannot create directory", root_ + "/" + dir, errno);
    }
    blobs_fd_ = RC_TRY(open_dir_below(root_fd_.get(), "blobs/sha256"));
    struct stat st {};
    if (::fstatat(root_fd_.get(), "oci-layout", &st, AT_SYMLINK_NOFOLLOW) != 0) {
      RC_CHECK(write_file_atomic_at(root_fd_.get(), "oci-layout",
                                    R"({"imageLayoutVersion":"1.0.0"})", root_ + "/oci-layout"));
    }
    clear_leftovers();
    // A tier that has its index opens without the lock: a restore through it must not wait
    // on whoever holds it. A store takes it, so a save fails here, before it uploads
    // anything, when it could not tag its entry.
    if (wait_ == LockWait::brief &&
        ::fstatat(root_fd_.get(), "index.json", &st, AT_SYMLINK_NOFOLLOW) == 0)
      return {};
    auto lock = RC_TRY(take_lock());
    if (::fstatat(root_fd_.get(), "index.json", &st, AT_SYMLINK_NOFOLLOW) != 0) {
      json idx = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", json::array()}};
      RC_CHECK(write_file_atomic_at(root_fd_.get(), "index.json", idx.dump(), index_path()));
    }
    return {};
  }

  std::string describe() const override { return "oci:" + root_; }
  std::string staging_dir() const override { return root_; }

  // A blob found here is touched: a save about to reference it is then covered by the
  // garbage collector's grace period (store/oci_layout/layout_gc.hpp). Only a regular file
  // counts: a symlink or FIFO planted as a blob is not one.
  Result<bool> has_blob(const Descriptor& d) override {
    if (!is_valid_digest(d.digest) || !blobs_fd_) return false;
    const std::string name = d.digest.substr(7);
    struct stat st {};
    if (::fstatat(blobs_fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != d.size) return false;
    ::utimensat(blobs_fd_.get(), name.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
    return true;
  }

  Status get_blob(const Descriptor& d, Sink* out) override {
    if (!is_valid_digest(d.digest))
      return make_error(ErrorKind::integrity, "bad digest " + d.digest);
    const std::string shown = blob_path(d.digest);
    if (!blobs_fd_)
      return make_error(ErrorKind::not_found,
                        "blob " + d.digest + " is missing from " + describe());
    UniqueFd fd(::openat(blobs_fd_.get(), d.digest.substr(7).c_str(),
                         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT)
        return make_error(ErrorKind::not_found,
                          "blob " + d.digest + " is missing from " + describe());
      return errno_error("cannot open", shown, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
      return make_error(ErrorKind::integrity, shown + " is not a regular file");
    std::vector<char> buf(1 << 18);
    for (;;) {
      if (deadline_ && std::chrono::steady_clock::now() >= *deadline_)
        return make_error(ErrorKind::timeout, describe() + ": gave up, the time budget ran out");
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error("cannot read", shown, errno);
      if (n == 0) return {};
      RC_CHECK(check_interrupted());
      RC_CHECK(out->write(buf.data(), static_cast<size_t>(n)));
    }
  }

  Status put_blob(const Descriptor& d, const BlobSource& src) override {
    if (!is_valid_digest(d.digest))
      return make_error(ErrorKind::integrity, "bad digest " + d.digest);
    if (!blobs_fd_) return make_error(ErrorKind::io, describe() + " has no blobs/sha256 directory");
    const std::string name = d.digest.substr(7);
    if (has_blob(d).value()) return {};
    if (src.file.empty())
      return write_file_atomic_at(blobs_fd_.get(), name, src.bytes, blob_path(d.digest));
    // Staged inside this layout: a link is enough (given the modes every other file of the
    // layout has: the umask's); otherwise a copy, streamed (a pack is tens of MiB, and a save
    // puts several at once). Either way under a temporary name, renamed onto the blob's: what
    // has_blob did not take there (a short copy a crash left, a truncated one) is replaced.
    const std::string tmp = owned_temp_name(kAtomicTempPrefix);
    UniqueFd held;
    if (::linkat(AT_FDCWD, src.file.c_str(), blobs_fd_.get(), tmp.c_str(), 0) == 0) {
      held = UniqueFd(::openat(blobs_fd_.get(), tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (held) hold_temp(held.get());
      if (held) ::fchmod(held.get(), 0666 & ~process_umask());
    } else {
      Status copied = copy_in(src.file, tmp, blob_path(d.digest), &held);
      if (!copied.ok()) {
        ::unlinkat(blobs_fd_.get(), tmp.c_str(), 0);
        return copied;
      }
    }
    if (::renameat(blobs_fd_.get(), tmp.c_str(), blobs_fd_.get(), name.c_str()) != 0) {
      Status st = errno_error("cannot rename into", blob_path(d.digest), errno);
      ::unlinkat(blobs_fd_.get(), tmp.c_str(), 0);
      return st;
    }
    return {};
  }

  // Removes the copy when its bytes, read again, do not hash to its name; only that file: a
  // save may put a good copy in its place meanwhile, and it stays.
  bool drop_damaged(const Descriptor& d) override {
    if (!is_valid_digest(d.digest) || !blobs_fd_) return false;
    const std::string name = d.digest.substr(7);
    const std::string aside = owned_temp_name(kAtomicTempPrefix);
    if (::renameat(blobs_fd_.get(), name.c_str(), blobs_fd_.get(), aside.c_str()) != 0)
      return false;
    auto hashed = hash_blob_at(aside);
    if (!hashed.ok() || *hashed == d.digest) {  // a good copy, put meanwhile, goes back
      if (::renameat2(blobs_fd_.get(), aside.c_str(), blobs_fd_.get(), name.c_str(),
                      RENAME_NOREPLACE) != 0)
        ::unlinkat(blobs_fd_.get(), aside.c_str(), 0);
      return false;
    }
    return ::unlinkat(blobs_fd_.get(), aside.c_str(), 0) == 0;
  }

  Result<std::optional<FetchedManifest>> get_manifest(const std::string& ref) override {
    std::string digest = ref;
    if (!is_valid_digest(ref)) {
      auto idx = RC_TRY(read_index());
      digest.clear();
      for (const auto& m : idx["manifests"]) {
        if (m.contains("annotations") && m["annotations"].value(kRefName, "") == ref) {
          digest = string_field(m, "digest");
        }
      }
      if (digest.empty()) return std::optional<FetchedManifest>();
      if (!is_valid_digest(digest)) {
        return make_error(ErrorKind::integrity,
                          "tag " + ref + " in " + index_path() + " names an unsupported digest");
      }
    }
    if (!blobs_fd_) return std::optional<FetchedManifest>();
    auto bytes =
        read_file_at(blobs_fd_.get(), digest.substr(7), blob_path(digest), kMaxManifestBytes);
    if (!bytes.ok()) {
      if (bytes.error().kind != ErrorKind::not_found) return bytes.error();
      // Nothing under the tag, as a registry whose manifest was deleted answers: -v says why.
      if (digest != ref)
        log_verbose("tag " + ref + " in " + index_path() + " names " + digest +
                    ", which is missing from " + describe());
      return std::optional<FetchedManifest>();
    }
    FetchedManifest fm;
    fm.bytes = std::move(bytes).value();
    fm.digest = sha256_digest(fm.bytes);
    json j = json::parse(fm.bytes, nullptr, false);
    fm.media_type = string_field(j, "mediaType");
    return std::optional<FetchedManifest>(std::move(fm));
  }

  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    std::string digest = sha256_digest(bytes);
    if (is_valid_digest(tag) && tag != digest)
      return make_error(ErrorKind::integrity, "manifest does not match its digest " + tag);
    RC_CHECK(put_blob({media_type, digest, bytes.size(), {}}, {"", bytes}));
    if (is_valid_digest(tag)) return digest;  // by digest: untagged, reachable from a tag later
    auto lock = RC_TRY(take_lock());
    auto idx = RC_TRY(read_index());
    json kept = json::array();
    for (const auto& m : idx["manifests"]) {
      if (!(m.contains("annotations") && m["annotations"].value(kRefName, "") == tag)) {
        kept.push_back(m);
      }
    }
    kept.push_back({{"mediaType", media_type},
                    {"digest", digest},
                    {"size", bytes.size()},
                    {"annotations", {{kRefName, tag}}}});
    idx["manifests"] = kept;
    RC_CHECK(write_file_atomic_at(root_fd_.get(), "index.json", idx.dump(), index_path()));
    return digest;
  }

  Status delete_manifest(const std::string& digest) override {
    auto lock = RC_TRY(take_lock());
    auto idx = RC_TRY(read_index());
    json kept = json::array();
    bool found = false;
    for (const auto& m : idx["manifests"]) {
      if (string_field(m, "digest") == digest)
        found = true;
      else
        kept.push_back(m);
    }
    if (!found)
      return make_error(ErrorKind::not_found, "no manifest " + digest + " in " + describe());
    idx["manifests"] = kept;
    return write_file_atomic_at(root_fd_.get(), "index.json", idx.dump(), index_path());
  }

  // Last uses live in index.json, as an annotation on each entry's descriptor: no extra
  // file, and a deleted entry takes its record with it.
  UsageRecords* usage() override { return this; }

  Result<UsageTimes> read_uses() override {
    auto idx = RC_TRY(read_index());
    UsageTimes out;
    for (const auto& m : idx["manifests"]) {
      if (m.contains("annotations") && m["annotations"].contains(kAnnoLastUsed) &&
          m["annotations"][kAnnoLastUsed].is_string()) {
        out[string_field(m, "digest")] = m["annotations"][kAnnoLastUsed].get<std::string>();
      }
    }
    return out;
  }

  Status record_use(const std::string& digest, const std::string& when) override {
    auto lock = RC_TRY(take_lock());
    auto idx = RC_TRY(read_index());
    bool changed = false;
    for (auto& m : idx["manifests"]) {
      if (string_field(m, "digest") != digest || !m.contains("annotations")) continue;
      auto& a = m["annotations"];
      // By time, and only a time a clock could have written: "~" would sort above them all.
      if (a.contains(kAnnoLastUsed) && a[kAnnoLastUsed].is_string()) {
        auto recorded = parse_written_time(a[kAnnoLastUsed].get<std::string>());
        if (recorded && *recorded >= parse_rfc3339(when).value_or(TimePoint{})) continue;
      }
      a[kAnnoLastUsed] = when;
      changed = true;
    }
    if (changed)
      RC_CHECK(write_file_atomic_at(root_fd_.get(), "index.json", idx.dump(), index_path()));
    return {};
  }

  Result<std::vector<std::string>> list_tags() override {
    auto idx = RC_TRY(read_index());
    std::vector<std::string> tags;
    for (const auto& m : idx["manifests"]) {
      if (m.contains("annotations") && m["annotations"].contains(kRefName)) {
        tags.push_back(m["annotations"][kRefName].get<std::string>());
      }
    }
    return tags;
  }

 private:
  // Copies the file at `from` into blobs/sha256/tmp (created, held until *held closes).
  Status copy_in(const std::string& from, const std::string& tmp, const std::string& shown,
                 UniqueFd* held) {
    UniqueFd in(::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) return errno_error("cannot open", from, errno);
    *held = UniqueFd(::openat(blobs_fd_.get(), tmp.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
    if (!*held) return errno_error("cannot create a temporary file beside", shown, errno);
    hold_temp(held->get());
    RC_CHECK(copy_file_bytes(in.get(), held->get(), shown));
    if (::fsync(held->get()) != 0) return errno_error("cannot sync", shown, errno);
    return {};
  }

  // Takes the layout's lock, waiting this store's patience at most, and never past the
  // deadline. Once a wait has failed, later ones fail at once: whoever holds the lock is
  // not waited for again by this command.
  Result<std::unique_ptr<LayoutLock>> take_lock() {
    const auto until =
        lock_timed_out_
            ? LayoutLock::Clock::now()
            : lock_wait_end(wait_ == LockWait::brief ? kTierLockPatience : kLayoutLockPatience,
                            deadline_);
    auto lock = std::make_unique<LayoutLock>(root_fd_.get(), until);
    if (lock->ok()) return lock;
    const int err = errno;
    if (err == EWOULDBLOCK) lock_timed_out_ = true;
    return layout_lock_error(root_, err);
  }

  // Returns "sha256:<hex>" of the regular file `name` in blobs/sha256.
  Result<std::string> hash_blob_at(const std::string& name) const {
    UniqueFd fd(
        ::openat(blobs_fd_.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
      return make_error(ErrorKind::io, "cannot read " + root_ + "/blobs/sha256/" + name);
    Sha256 hash;
    std::vector<char> buf(1 << 18);
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error("cannot read", root_ + "/blobs/sha256/" + name, errno);
      if (n == 0) return "sha256:" + hash.hex_final();
      RC_CHECK(check_interrupted());
      hash.update(buf.data(), static_cast<size_t>(n));
    }
  }

  std::string index_path() const { return root_ + "/index.json"; }
  std::string blob_path(const std::string& digest) const {
    return root_ + "/blobs/sha256/" + digest.substr(7);
  }
  Result<json> read_index() {
    auto text = RC_TRY(read_file_at(root_fd_.get(), "index.json", index_path(), kMaxIndexBytes));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("manifests") ||
        !j["manifests"].is_array()) {
      return make_error(ErrorKind::integrity, "malformed " + index_path());
    }
    for (size_t i = 0; i < j["manifests"].size(); ++i) {
      if (!valid_index_entry(j["manifests"][i])) {
        return make_error(ErrorKind::integrity,
                          "malformed " + index_path() + ": manifests[" + std::to_string(i) + "]");
      }
    }
    return j;
  }
  std::string root_;
  std::optional<SteadyClock> deadline_;  // reads end by then (restore --timeout)
  LockWait wait_;
  std::atomic<bool> lock_timed_out_{false};
  UniqueFd root_fd_, blobs_fd_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_layout_store(const std::string& root, LayoutOpen mode,
                                                 std::optional<SteadyClock> deadline,
                                                 LockWait wait) {
  auto store = std::make_unique<LayoutStore>(root, deadline, wait);
  RC_CHECK(mode == LayoutOpen::create ? store->init() : store->open_existing());
  if (mode == LayoutOpen::existing) store->clear_leftovers();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace regcache
