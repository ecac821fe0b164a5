#include "regcache/lifecycle/entry_listing.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>

#include "regcache/core/entry_index.hpp"
#include "regcache/core/entry_signing.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/lifecycle/usage_record.hpp"
#include "regcache/store/referrers.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/parallel.hpp"

namespace regcache {

namespace {

// Returns the entry under tag as its manifest says, or nullopt when it is gone, is not a
// regcache entry or its key does not start with prefix.
Result<std::optional<ListedEntry>> read_entry(Store& store, const std::string& tag,
                                              const std::string& prefix) {
  auto got = store.get_manifest(tag);
  if (!got.ok() &&
      is_content_error(got.error().kind)) {  // one bad manifest: skipped, as lookups do
    log_verbose("skipping " + tag + ": " + got.error().message);
    return std::optional<ListedEntry>();
  }
  auto m = RC_TRY(std::move(got));
  if (!m) return std::optional<ListedEntry>();  // deleted since the listing
  auto info = parse_manifest(m->bytes);
  if (!info.ok() || info->key.empty()) {
    log_verbose("skipping " + tag + ": not a regcache entry");
    return std::optional<ListedEntry>();
  }
  if (info->key.rfind(prefix, 0) != 0) return std::optional<ListedEntry>();
  ListedEntry e{tag, m->digest, std::move(info).value(), {}};
  for (const auto& l : e.info.layers) e.stored += l.size;
  e.layers = e.info.layers.size();
  return std::optional<ListedEntry>(std::move(e));
}

// Returns the entry as the index row says.
ListedEntry from_row(const std::string& tag, const IndexRow& row) {
  ListedEntry e;
  e.tag = tag;
  e.digest = row.digest;
  e.info.key = row.key;
  e.info.created = row.created;
  e.info.files = row.files;
  e.info.size = row.size;
  e.info.ref = row.ref;
  e.stored = row.stored;
  e.layers = row.layers;
  return e;
}

// Sets *signers from the index row of tag when it knows them for that digest.
bool row_signers(const IndexRows& rows, const std::string& tag, const std::string& digest,
                 std::vector<std::string>* signers) {
  auto row = rows.find(tag);
  if (row == rows.end() || row->second.digest != digest || !row->second.signers) return false;
  *signers = *row->second.signers;
  return true;
}

}  // namespace

Result<std::vector<ListedEntry>> list_entries(Store& store, const std::string& prefix,
                                              ListFrom from, size_t jobs) {
  std::string tag_prefix = prefix.empty() ? "" : tag_prefix_for(prefix);
  LookupIndex index(store);
  if (from == ListFrom::index) index.start_read();  // beside the tag list
  std::vector<std::string> tags;
  std::set<std::string> referrers;
  for (auto& t : RC_TRY(store.list_tags())) {
    if (is_referrers_tag(t))
      referrers.insert(std::move(t));
    else if (t.rfind(tag_prefix, 0) == 0 && !is_reserved_tag(t))
      tags.push_back(std::move(t));
  }
  const auto rows_held =
      from == ListFrom::index ? index.rows() : std::make_shared<const IndexRows>();
  const IndexRows& rows = *rows_held;
  std::vector<std::optional<ListedEntry>> found(tags.size());
  RC_CHECK(parallel_for(tags.size(), jobs, [&](size_t i) -> Status {
    // A row whose key the prefix does not take is read from its manifest: anyone who may
    // push may write the index, and a row must not hide an entry (lookups read it too).
    if (auto row = rows.find(tags[i]); row != rows.end() && row->second.key.rfind(prefix, 0) == 0) {
      found[i] = from_row(tags[i], row->second);
    } else {
      found[i] = RC_TRY(read_entry(store, tags[i], prefix));
    }
    if (!found[i]) return {};
    ListedEntry& e = *found[i];
    e.has_referrers = referrers.count(referrers_tag(e.digest)) > 0;
    if (e.has_referrers && !(row_signers(rows, tags[i], e.digest, &e.signers))) {
      auto signers = claimed_signers(store, e.digest);
      if (signers.ok())
        e.signers = std::move(signers).value();
      else
        log_verbose(tags[i] + ": cannot read its signatures: " + signers.error().message);
    }
    return {};
  }));
  std::vector<ListedEntry> out;
  for (auto& f : found) {
    if (f) out.push_back(std::move(*f));
  }
  std::stable_sort(out.begin(), out.end(), [](const ListedEntry& x, const ListedEntry& y) {
    return x.info.created > y.info.created;
  });
  return out;
}

}  // namespace regcache
