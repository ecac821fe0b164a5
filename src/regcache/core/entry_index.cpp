#include "regcache/core/entry_index.hpp"

#include <algorithm>
#include <optional>

#include "regcache/archive/compression.hpp"
#include "regcache/store/empty_blob.hpp"
#include "regcache/store/fetch_verified.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

constexpr int kRowsCompressionLevel = 3;

// Reads the rows blob: its rows, or an integrity error when it is damaged.
Result<IndexRows> read_rows_blob(Store& store, const Descriptor& blob) {
  StringSink text(kMaxIndexRowsBytes);
  // Room for the text at once (rows compress about 4 to 1; pages not written cost nothing):
  // grown by doubling, 2 MB of rows were copied over and over.
  text.str().reserve(std::min<uint64_t>(kMaxIndexRowsBytes, blob.size * 8));
  auto decompress = make_decompressor(Compression::zstd, kMaxIndexRowsBytes, &text);
  StopOnError guard(decompress.get());
  Status st = fetch_verified(store, blob, &guard);
  if (st.ok()) st = guard.finish();
  if (!st.ok()) return st.error();
  return parse_rows_json(text.str());
}

Result<std::string> compress_rows(const IndexRows& rows) {
  StringSink out;
  auto compress = make_compressor(Compression::zstd, kRowsCompressionLevel, &out);
  const std::string text = rows_json(rows);
  RC_CHECK(compress->write(text.data(), text.size()));
  RC_CHECK(compress->finish());
  return std::move(out.str());
}

// Returns whether an index with this many rows outside its blob, and this many blob rows of
// deleted tags, is rewritten with all its rows in a new blob.
bool compaction_due(size_t inline_rows, size_t dead_rows, size_t blob_rows) {
  return inline_rows > kInlineIndexRows || dead_rows > std::max(kInlineIndexRows, blob_rows / 4);
}

// Returns the row a learned row becomes over the known one: a row read from a manifest does
// not know its signers, so it keeps those the saver wrote for the same digest.
IndexRow merged_row(const IndexRow& learned, const IndexRow& known) {
  IndexRow merged = learned;
  if (!learned.signers && known.digest == learned.digest) merged.signers = known.signers;
  return merged;
}

// Returns true for errors that say nothing about the index itself (it may read next time).
bool is_transient(ErrorKind kind) {
  return kind == ErrorKind::network || kind == ErrorKind::auth || kind == ErrorKind::timeout ||
         kind == ErrorKind::interrupted;
}

}  // namespace

IndexRow index_row(const std::string& digest, const EntryInfo& info) {
  IndexRow r;
  r.digest = digest;
  r.key = info.key;
  r.created = info.created;
  r.ref = info.ref;
  r.files = info.files;
  r.size = info.size;
  for (const auto& l : info.layers) r.stored += l.size;
  r.layers = info.layers.size();
  return r;
}

LookupIndex::LookupIndex(Store& store)
    : store_(store), kept_(store.properties().lookup_index == LookupIndexUse::kept) {}

LookupIndex::~LookupIndex() {
  if (write_done_.valid()) write_done_.wait();
  if (read_done_.valid()) read_done_.wait();
}

void LookupIndex::start_read(IndexWrite intent) {
  if (!kept_) return;
  std::call_once(read_once_, [this, intent] {
    read_done_ = std::async(std::launch::async, [this, intent] { read(intent); }).share();
  });
}

std::shared_ptr<const IndexRows> LookupIndex::rows() {
  start_read();
  if (read_done_.valid()) read_done_.wait();
  std::lock_guard lock(mu_);
  return rows_;
}

void LookupIndex::learned(const std::string& tag, IndexRow row) {
  if (!kept_) return;
  std::lock_guard lock(mu_);
  learned_[tag] = std::move(row);
}

void LookupIndex::tags_listed(const std::vector<std::string>& tags) {
  std::lock_guard lock(mu_);
  tags_.emplace(tags.begin(), tags.end());
}

void LookupIndex::write_in_background() {
  if (!kept_) return;
  {
    std::lock_guard lock(mu_);
    if (learned_.empty() && !tags_) return;  // nothing that could change it
  }
  start_read();
  if (write_done_.valid()) write_done_.wait();
  write_done_ = std::async(std::launch::async, [this] {
    read_done_.wait();
    write();
  });
}

void LookupIndex::read(IndexWrite intent) {
  // Requests go out without the lock: learned() may be called meanwhile.
  auto m = store_.get_manifest(kIndexTag);
  if (!m.ok()) {
    log_verbose("cannot read the lookup index: " + m.error().message);
    std::lock_guard lock(mu_);
    readable_ = false;  // a write would replace what could not be seen
    return;
  }
  if (!*m) {
    // The first index's config goes in now, so that its write costs one request.
    Status st;
    if (intent == IndexWrite::expected) st = put_empty_blob(store_);
    if (!st.ok()) log_verbose("could not prepare the lookup index: " + st.error().message);
    std::lock_guard lock(mu_);
    empty_blob_ready_ = intent == IndexWrite::expected && st.ok();
    return;
  }
  auto index = parse_index_manifest((*m)->bytes);
  std::optional<Result<IndexRows>> blob_rows;
  if (index.ok() && index->rows_blob) blob_rows = read_rows_blob(store_, *index->rows_blob);
  std::lock_guard lock(mu_);
  exists_ = true;
  if (!index.ok()) {
    log_verbose(index.error().message + "; it will be written anew");
    return;
  }
  if (blob_rows && !blob_rows->ok()) {
    if (is_transient(blob_rows->error().kind)) {
      log_verbose("cannot read the lookup index's rows: " + blob_rows->error().message);
      readable_ = false;
      return;
    }
    // Damaged, missing, too large: what it held is read again from the manifests.
    log_verbose("the lookup index's rows cannot be used (" + blob_rows->error().message +
                "); they will be written anew");
    return;
  }
  if (blob_rows) {
    blob_rows_ = std::move(*blob_rows).value();
    rows_blob_ = index->rows_blob;
  }
  auto rows = std::make_shared<IndexRows>(blob_rows_);
  for (auto& [tag, row] : index->inline_rows) (*rows)[tag] = std::move(row);
  rows_ = std::move(rows);
}

bool LookupIndex::changes_rows() const {
  for (const auto& [tag, row] : learned_) {
    auto known = rows_->find(tag);
    if (known == rows_->end() || merged_row(row, known->second) != known->second) return true;
  }
  return false;
}

bool LookupIndex::needs_compaction() const {
  size_t dead = 0, inline_rows = 0;
  for (const auto& [tag, row] : *rows_) {
    if (tags_ && !tags_->count(tag) && !learned_.count(tag)) {
      dead += blob_rows_.count(tag);
      continue;
    }
    auto in_blob = blob_rows_.find(tag);
    if (in_blob == blob_rows_.end() || in_blob->second != row) ++inline_rows;
  }
  return compaction_due(inline_rows, dead, blob_rows_.size());
}

void LookupIndex::write() {
  std::unique_lock lock(mu_);
  if (!readable_) return;
  if (!changes_rows() && !needs_compaction()) return;  // the common case: nothing to write
  IndexRows rows = *rows_;
  for (const auto& [tag, row] : learned_) {
    auto known = rows.find(tag);
    if (known == rows.end()) {
      rows.emplace(tag, row);
    } else {
      known->second = merged_row(row, known->second);
    }
  }
  const bool changed = rows != *rows_;
  size_t dead = 0;  // rows of the blob whose tag is gone
  if (tags_) {
    for (auto it = rows.begin(); it != rows.end();) {
      // A row this command learned stays: a save's own tag is not in the list it read.
      if (tags_->count(it->first) || learned_.count(it->first)) {
        ++it;
        continue;
      }
      dead += blob_rows_.count(it->first);
      it = rows.erase(it);
    }
  }
  IndexManifest next;
  for (const auto& [tag, row] : rows) {
    auto in_blob = blob_rows_.find(tag);
    if (in_blob == blob_rows_.end() || in_blob->second != row) next.inline_rows[tag] = row;
  }
  const bool compact = compaction_due(next.inline_rows.size(), dead, blob_rows_.size());
  if (!changed && !compact) return;
  Store& store = store_;
  const bool existed = exists_, empty_ready = empty_blob_ready_;
  std::optional<Descriptor> rows_blob = rows_blob_;
  lock.unlock();
  auto fail = [&](const Error& e) {
    log_verbose("could not write the lookup index: " + e.message);
  };
  if (compact) {
    keep_newest_rows(&rows);
    auto bytes = compress_rows(rows);
    if (!bytes.ok()) return fail(bytes.error());
    Descriptor blob{kIndexRowsMediaType, sha256_digest(*bytes), bytes->size(), {}};
    if (Status st = store.put_blob(blob, {"", *bytes}); !st.ok()) return fail(st.error());
    rows_blob = blob;
    next.inline_rows.clear();
  }
  next.rows_blob = rows_blob;
  const std::string manifest = build_index_manifest(next, now_rfc3339());
  if (!existed && !empty_ready) {
    if (Status st = put_empty_blob(store); !st.ok()) return fail(st.error());
  }
  auto put = store.put_manifest(kIndexTag, manifest, kOciManifest);
  if (!put.ok() && (existed || empty_ready) && put.error().kind == ErrorKind::not_found) {
    if (Status st = put_empty_blob(store); !st.ok()) return fail(st.error());
    put = store.put_manifest(kIndexTag, manifest, kOciManifest);
  }
  if (!put.ok()) return fail(put.error());
  lock.lock();
  exists_ = true;
  rows_ = std::make_shared<const IndexRows>(std::move(rows));
  if (compact) blob_rows_ = *rows_;
  rows_blob_ = rows_blob;
  learned_.clear();
}

}  // namespace regcache
