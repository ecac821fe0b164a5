#include "regcache/lifecycle/usage_record.hpp"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "regcache/format/entry_format.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

using nlohmann::json;

constexpr const char* kAnnoUsage = "dev.regcache.usage";
constexpr const char* kUsageArtifactType = "application/vnd.dev.regcache.usage.v1+json";
constexpr const char* kEmptyMediaType = kOciEmpty;
constexpr const char* kEmptyJson = "{}";

Descriptor empty_descriptor() {
  return {kEmptyMediaType, sha256_digest(kEmptyJson), 2, {}};
}

UsageTimes parse_usage_manifest(const std::string& bytes) {
  UsageTimes out;
  json m = json::parse(bytes, nullptr, false);
  if (!m.is_object() || !m.contains("annotations") || !m["annotations"].is_object()) return out;
  const auto& a = m["annotations"];
  if (!a.contains(kAnnoUsage) || !a[kAnnoUsage].is_string()) return out;
  json uses = json::parse(a[kAnnoUsage].get<std::string>(), nullptr, false);
  if (!uses.is_object()) return out;
  for (auto& [digest, when] : uses.items()) {
    if (when.is_string() && is_valid_digest(digest)) out[digest] = when.get<std::string>();
  }
  return out;
}

// Keeps the newest kMaxUsageRecords records.
void bound(UsageTimes* uses) {
  if (uses->size() <= kMaxUsageRecords) return;
  std::vector<std::pair<std::string, std::string>> v(uses->begin(), uses->end());
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  v.resize(kMaxUsageRecords);
  *uses = UsageTimes(v.begin(), v.end());
}

std::string usage_manifest(const UsageTimes& uses, const std::string& now) {
  Descriptor e = empty_descriptor();
  json desc = {{"mediaType", e.media_type}, {"digest", e.digest}, {"size", e.size}};
  json j = {{"schemaVersion", 2},
            {"mediaType", kOciManifest},
            {"artifactType", kUsageArtifactType},
            {"config", desc},
            {"layers", json::array({desc})},
            {"annotations", {{kAnnoCreated, now}, {kAnnoUsage, json(uses).dump()}}}};
  return j.dump();
}

Status record_in_tag(Store& store, const std::string& digest, const std::string& now) {
  UsageTimes uses;
  if (auto m = RC_TRY(store.get_manifest(kUsageTag))) uses = parse_usage_manifest(m->bytes);
  auto it = uses.find(digest);
  if (it != uses.end() && it->second >= now) return {};
  uses[digest] = now;
  bound(&uses);
  Descriptor e = empty_descriptor();
  if (!RC_TRY(store.has_blob(e))) RC_CHECK(store.put_blob(e, {"", kEmptyJson}));
  RC_TRY(store.put_manifest(kUsageTag, usage_manifest(uses, now), kOciManifest));
  return {};
}

}  // namespace

void record_use(Store& store, const std::string& digest) {
  const std::string now = now_rfc3339();
  UsageRecords* native = store.usage();
  Status st = native ? native->record_use(digest, now) : record_in_tag(store, digest, now);
  if (!st.ok()) log_verbose("could not record the use of " + digest + ": " + st.error().message);
}

Result<UsageTimes> read_usage(Store& store) {
  if (UsageRecords* native = store.usage()) return native->read_uses();
  auto m = RC_TRY(store.get_manifest(kUsageTag));
  return m ? parse_usage_manifest(m->bytes) : UsageTimes{};
}

}  // namespace regcache
