#include "regcache/lifecycle/entry_listing.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "regcache/core/entry_signing.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/lifecycle/usage_record.hpp"
#include "regcache/store/referrers.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/parallel.hpp"

namespace regcache {

namespace {

// Written by save from the CI's git ref (another change); only read here.
constexpr const char* kRefAnnotation = "dev.regcache.ref";

std::string ref_annotation(const std::string& manifest) {
  auto j = nlohmann::json::parse(manifest, nullptr, false);
  if (!j.is_object() || !j.contains("annotations") || !j["annotations"].is_object()) return "";
  const auto& a = j["annotations"];
  return a.contains(kRefAnnotation) && a[kRefAnnotation].is_string()
             ? a[kRefAnnotation].get<std::string>()
             : "";
}

}  // namespace

uint64_t ListedEntry::compressed_bytes() const {
  uint64_t n = 0;
  for (const auto& l : info.layers) n += l.size;
  return n;
}

Result<std::vector<ListedEntry>> list_entries(Store& store, const std::string& prefix,
                                              size_t jobs) {
  std::string tag_prefix = prefix.empty() ? "" : tag_prefix_for(prefix);
  std::vector<std::string> tags;
  std::set<std::string> referrers;
  for (auto& t : RC_TRY(store.list_tags())) {
    if (is_referrers_tag(t))
      referrers.insert(std::move(t));
    else if (t.rfind(tag_prefix, 0) == 0 && !is_usage_tag(t))
      tags.push_back(std::move(t));
  }
  std::vector<std::optional<ListedEntry>> found(tags.size());
  RC_CHECK(parallel_for(tags.size(), jobs, [&](size_t i) -> Status {
    auto m = RC_TRY(store.get_manifest(tags[i]));
    if (!m) return {};  // deleted since the listing
    auto info = parse_manifest(m->bytes);
    if (!info.ok() || info->key.empty()) {
      log_verbose("skipping " + tags[i] + ": not a regcache entry");
      return {};
    }
    if (info->key.rfind(prefix, 0) != 0) return {};
    found[i] =
        ListedEntry{tags[i], m->digest, std::move(info).value(), ref_annotation(m->bytes), {}};
    if (referrers.count(referrers_tag(m->digest))) {
      found[i]->has_referrers = true;
      auto signers = claimed_signers(store, m->digest);
      if (signers.ok())
        found[i]->signers = std::move(signers).value();
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
