#include "regcache/store/tiered/tiered_store.hpp"

#include <algorithm>
#include <atomic>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "regcache/oci/media_types.hpp"
#include "regcache/store/referrers.hpp"
#include "regcache/store/tiered/copy_checks.hpp"
#include "regcache/util/clock.hpp"
#include "regcache/util/dir_path.hpp"
#include "regcache/util/fd.hpp"
#include "regcache/util/fs.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"
#include "regcache/util/sink.hpp"
#include "regcache/util/stale.hpp"
#include "regcache/util/temp_file.hpp"

namespace regcache {

namespace {

// The OCI annotation of an image's creation time (RFC 3339, which sorts as text).
constexpr const char* kAnnoImageCreated = "org.opencontainers.image.created";

// Passes bytes to `out` and, until writing it first fails, to `copy`, hashing what it copies.
class TeeSink : public Sink {
 public:
  TeeSink(Sink* out, int copy_fd, std::string copy_path)
      : out_(out), file_(copy_fd, std::move(copy_path)), hashed_(&file_) {}
  Status write(const char* data, size_t size) override {
    if (copying_) {
      if (Status st = hashed_.write(data, size); !st.ok()) {
        copying_ = false;
        copy_error_ = st.error();
      }
    }
    bytes_ += size;
    return out_->write(data, size);
  }
  Status finish() override { return out_->finish(); }
  // Returns true when the copy holds exactly the blob `d`.
  bool copy_is(const Descriptor& d) {
    return copying_ && bytes_ == d.size && hashed_.digest() == d.digest;
  }
  uint64_t bytes() const { return bytes_; }
  // Returns why writing the copy stopped, if it did.
  const std::optional<Error>& copy_error() const { return copy_error_; }

 private:
  Sink* out_;
  FdSink file_;
  HashingSink hashed_;
  std::optional<Error> copy_error_;
  bool copying_ = true;
  uint64_t bytes_ = 0;
};

// True when the layout at `root` holds a blob (a file of blobs/sha256 named by a digest, as
// eviction and garbage collection read it); false when it holds none or does not exist yet.
bool tier_holds_a_blob(const std::string& root) {
  auto dir = open_directory(root, MissingDirs::error);
  if (!dir.ok()) return false;
  auto blobs = open_dir_below(dir->fd.get(), "blobs/sha256");
  if (!blobs.ok()) return false;
  auto names = list_dir(blobs->get());
  return std::any_of(names.begin(), names.end(),
                     [](const std::string& n) { return is_sha256_hex(n); });
}

// Fails every write once `stop` is set: a check that must end stops reading.
class StopSink : public Sink {
 public:
  explicit StopSink(const std::atomic<bool>& stop) : stop_(stop) {}
  Status write(const char*, size_t) override {
    if (stop_) return make_error(ErrorKind::interrupted, "the check stopped");
    return {};
  }

 private:
  const std::atomic<bool>& stop_;
};

// Returns the config and layers an image manifest names, in that order; none when it does
// not parse (the registry's manifest decides what is read; this only looks ahead).
std::vector<Descriptor> manifest_blobs(const std::string& bytes) {
  using nlohmann::json;
  json j = json::parse(bytes, nullptr, false);
  std::vector<Descriptor> out;
  if (!j.is_object()) return out;
  auto add = [&](const json& d) {
    if (!d.is_object() || !d.contains("digest") || !d["digest"].is_string() ||
        !d.contains("size") || !d["size"].is_number_unsigned())
      return;
    Descriptor desc;
    desc.digest = d["digest"].get<std::string>();
    desc.size = d["size"].get<uint64_t>();
    if (is_valid_digest(desc.digest)) out.push_back(std::move(desc));
  };
  if (j.contains("config")) add(j["config"]);
  if (j.contains("layers") && j["layers"].is_array()) {
    for (const auto& l : j["layers"]) add(l);
  }
  return out;
}

class TieredStore : public Store {
 public:
  TieredStore(std::unique_ptr<Store> remote, std::unique_ptr<Store> local, std::string root,
              TierCounters* counters, std::vector<std::string> remote_only_tags)
      : remote_(std::move(remote)),
        local_(std::move(local)),
        root_(std::move(root)),
        counters_(counters),
        remote_only_tags_(std::move(remote_only_tags)) {}

  std::string describe() const override { return remote_->describe(); }
  std::string staging_dir() const override { return remote_->staging_dir(); }
  Result<bool> has_blob(const Descriptor& d) override { return remote_->has_blob(d); }
  Result<bool> link_blob(const Descriptor& d, const Store& from) override {
    return remote_->link_blob(d, from);
  }
  StoreProperties properties() const override { return remote_->properties(); }
  Result<std::optional<FetchedManifest>> get_manifest(const std::string& reference) override {
    auto m = RC_TRY(remote_->get_manifest(reference));
    if (m) {
      std::lock_guard lock(mu_);
      fetched_[reference] = *m;
    }
    return m;
  }

  // Copies into the layout the manifest `digest` that this command fetched (under any
  // reference), under tag, with the signature material it read for it: its referrers list
  // and the signature manifests, whose blobs the reads kept already.
  Status keep_entry(const std::string& tag, const std::string& digest) {
    std::optional<FetchedManifest> entry, list;
    std::map<std::string, FetchedManifest> by_digest;
    {
      std::lock_guard lock(mu_);
      for (const auto& [ref, m] : fetched_) {
        if (m.digest == digest) entry = m;
        if (ref == referrers_tag(digest)) list = m;
        if (ref == m.digest) by_digest[ref] = m;
      }
    }
    if (!entry) return make_error(ErrorKind::not_found, "manifest " + digest + " was not fetched");
    auto media = [](const FetchedManifest& m) {
      return m.media_type.empty() ? std::string(kOciManifest) : m.media_type;
    };
    if (newer_here(tag, *entry)) {
      log_verbose("local cache: " + tag + " holds a newer entry; kept");
      return {};  // (nor its signatures: nothing here would name them)
    }
    RC_TRY(local_->put_manifest(tag, entry->bytes, media(*entry)));
    if (!list) return {};
    // The list as the tier holds it names only the signatures kept here: one naming what
    // this command did not read (a signature by another key, another tool's referrer) would
    // be an incomplete index to the tier's eviction, which forgets those.
    auto idx = nlohmann::json::parse(list->bytes, nullptr, false);
    if (!idx.is_object() || !idx.contains("manifests") || !idx["manifests"].is_array()) return {};
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& r : idx["manifests"]) {
      auto it = r.is_object() ? by_digest.find(string_field(r, "digest")) : by_digest.end();
      if (it == by_digest.end()) continue;
      RC_TRY(local_->put_manifest(it->first, it->second.bytes, media(it->second)));
      kept.push_back(r);
    }
    if (kept.empty()) return {};
    idx["manifests"] = std::move(kept);
    RC_TRY(local_->put_manifest(referrers_tag(digest), idx.dump(), kOciIndex));
    return {};
  }
  Status delete_manifest(const std::string& digest) override {
    return remote_->delete_manifest(digest);
  }
  Result<std::vector<std::string>> list_tags() override { return remote_->list_tags(); }
  UsageRecords* usage() override { return remote_->usage(); }
  // A tier that holds no blob yet (a new machine's first job) fetches every blob from the
  // registry, so its connections are opened beside the manifest as a plain restore does.
  // A tier that holds some cannot know which it lacks before the manifest, and warms none:
  // a warm tier fetches no blob, and the manifest and the usage record open their own.
  void warm_up(size_t parallel) override {
    if (!tier_holds_a_blob(root_)) remote_->warm_up(parallel);
  }
  void prepare_writes() override { remote_->prepare_writes(); }
  // The entry this machine last saw under the reference is most likely the one the registry
  // names: its copies are checked while the registry answers.
  void prepare_reads(const std::string& reference) override {
    remote_->prepare_reads(reference);
    checks_.check_ahead([this, reference] {
      auto m = local_->get_manifest(reference);
      return m.ok() && *m ? manifest_blobs((*m)->bytes) : std::vector<Descriptor>{};
    });
  }

  Status get_blob(const Descriptor& d, Sink* out) override {
    const LocalCopy copy = checks_.check(d);
    if (copy == LocalCopy::damaged)
      log_warning("local cache: blob " + d.digest + " is damaged; fetching it from " + describe());
    if (copy == LocalCopy::good) {
      CountingSink counted(out);
      Status st = local_->get_blob(d, &counted);
      counters_->local_bytes += counted.bytes;
      if (st.ok() || counted.bytes > 0) return st;  // bytes already reached the caller
    }
    TempFile tmp(root_ + "/" + owned_temp_name(kAtomicTempPrefix));
    if (Status made = tmp.create(); !made.ok()) {  // no room for a copy: the registry alone
      cannot_keep(d.digest, made.error());
      CountingSink counted(out);
      Status st = remote_->get_blob(d, &counted);
      counters_->remote_bytes += counted.bytes;
      return st;
    }
    TeeSink tee(out, tmp.fd.get(), tmp.path);
    Status st = remote_->get_blob(d, &tee);
    counters_->remote_bytes += tee.bytes();
    if (st.ok() && tee.copy_error()) cannot_keep(d.digest, *tee.copy_error());
    if (st.ok() && tee.copy_is(d)) keep_locally(d, {tmp.path, ""});
    return st;
  }

  Status put_blob(const Descriptor& d, const BlobSource& source) override {
    RC_CHECK(remote_->put_blob(d, source));
    if (source.offset == 0 && source.length == 0) keep_locally(d, source);
    return {};
  }

  Result<std::string> put_manifest(const std::string& tag, const std::string& bytes,
                                   const std::string& media_type) override {
    auto digest = RC_TRY(remote_->put_manifest(tag, bytes, media_type));
    if (std::find(remote_only_tags_.begin(), remote_only_tags_.end(), tag) !=
        remote_only_tags_.end())
      return digest;
    if (auto st = local_->put_manifest(tag, bytes, media_type); !st.ok())
      cannot_keep("manifest " + tag, st.error());
    return digest;
  }

 private:
  // Returns true when the layout's manifest under tag is another one, created later than
  // `fetched` (a job on this machine saved the key while this one restored it). A time in
  // the future is no one's save on this machine (its writer chose it): it never wins.
  bool newer_here(const std::string& tag, const FetchedManifest& fetched) {
    auto here = local_->get_manifest(tag);
    if (!here.ok() || !*here || (*here)->digest == fetched.digest) return false;
    auto created = [](const std::string& bytes) -> std::optional<TimePoint> {
      auto j = nlohmann::json::parse(bytes, nullptr, false);
      if (!j.is_object() || !j.contains("annotations") || !j["annotations"].is_object())
        return std::nullopt;
      return parse_written_time(string_field(j["annotations"], kAnnoImageCreated));
    };
    const auto mine = created((*here)->bytes), theirs = created(fetched.bytes);
    return mine && (!theirs || *mine > *theirs);
  }

  // Returns whether the layout holds d with content that matches the digest; a copy holding
  // other bytes is removed (the next download replaces it).
  LocalCopy check_copy(const Descriptor& d, const std::atomic<bool>& stop) {
    auto present = local_->has_blob(d);
    if (!present.ok() || !*present) return LocalCopy::absent;
    // By the directory opened once, never by its path: a blobs/sha256 swapped for a symlink
    // meanwhile must not turn the removal below into one elsewhere.
    const int blobs = blobs_dir();
    const std::string name = d.digest.substr(7);
    struct stat read {};
    const bool seen = blobs >= 0 && ::fstatat(blobs, name.c_str(), &read, AT_SYMLINK_NOFOLLOW) == 0;
    StopSink until(stop);
    HashingSink hash(&until);
    Status st = local_->get_blob(d, &hash);
    if (stop) return LocalCopy::absent;
    if (st.ok() && hash.bytes() == d.size && hash.digest() == d.digest) return LocalCopy::good;
    // Only other bytes are damage. A read that failed otherwise (evicted meanwhile, a signal,
    // no descriptor left) leaves the copy alone: the registry serves this command.
    if (!st.ok() && st.error().kind != ErrorKind::integrity) return LocalCopy::absent;
    // The damaged file only: another job may have put a good copy in its place meanwhile.
    struct stat now {};
    if (blobs >= 0 && (!seen || (::fstatat(blobs, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
                                 now.st_ino == read.st_ino && now.st_dev == read.st_dev)))
      ::unlinkat(blobs, name.c_str(), 0);
    return LocalCopy::damaged;
  }

  // Returns the layout's blobs/sha256, opened on first use (-1 when it cannot be).
  int blobs_dir() {
    std::lock_guard lock(mu_);
    if (!blobs_fd_) {
      auto dir = open_directory(root_, MissingDirs::error);
      if (!dir.ok()) return -1;
      auto blobs = open_dir_below(dir->fd.get(), "blobs/sha256");
      if (!blobs.ok()) return -1;
      blobs_fd_ = std::move(*blobs);
    }
    return blobs_fd_.get();
  }

  void keep_locally(const Descriptor& d, const BlobSource& source) {
    if (auto st = local_->put_blob(d, source); !st.ok()) cannot_keep(d.digest, st.error());
  }

  // A tier that cannot keep copies (its disk full, its directory read-only) says so once per
  // command, and then for each copy under -v: the command goes on with the registry alone.
  void cannot_keep(const std::string& what, const Error& e) {
    if (!warned_.exchange(true)) {
      log_warning("local cache " + root_ + ": cannot keep a copy (" + e.message +
                  "); what it lacks comes from " + describe());
    }
    log_verbose("local cache: cannot keep " + what + ": " + e.message);
  }

  std::unique_ptr<Store> remote_, local_;
  std::string root_;
  TierCounters* counters_;
  std::vector<std::string> remote_only_tags_;
  std::atomic<bool> warned_{false};
  std::mutex mu_;
  std::map<std::string, FetchedManifest> fetched_;  // by the reference asked for
  UniqueFd blobs_fd_;                               // blobs_dir(), under mu_
  // Last: destroyed first, it stops and waits for its thread, which reads local_.
  CopyChecks checks_{
      [this](const Descriptor& d, const std::atomic<bool>& stop) { return check_copy(d, stop); }};
};

}  // namespace

Status keep_entry_locally(Store& tiered, const std::string& tag, const std::string& digest) {
  auto* t = dynamic_cast<TieredStore*>(&tiered);
  if (!t) return make_error(ErrorKind::unsupported, "not a store with a local tier");
  return t->keep_entry(tag, digest);
}

std::unique_ptr<Store> make_tiered_store(std::unique_ptr<Store> remote,
                                         std::unique_ptr<Store> local, std::string local_root,
                                         TierCounters* counters,
                                         std::vector<std::string> remote_only_tags) {
  return std::make_unique<TieredStore>(std::move(remote), std::move(local), std::move(local_root),
                                       counters, std::move(remote_only_tags));
}

}  // namespace regcache
