#include "regcache/lifecycle/usage_record.hpp"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "regcache/format/descriptor_json.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/store/empty_blob.hpp"
#include "regcache/util/clock.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

using nlohmann::json;

constexpr const char* kAnnoUsage = "dev.regcache.usage";
constexpr const char* kUsageArtifactType = "application/vnd.dev.regcache.usage.v1+json";

UsageTimes parse_usage_manifest(const std::string& bytes) {
  UsageTimes out;
  json m = json::parse(bytes, nullptr, false);
  if (!m.is_object() || !m.contains("annotations") || !m["annotations"].is_object()) return out;
  const auto& a = m["annotations"];
  if (!a.contains(kAnnoUsage) || !a[kAnnoUsage].is_string()) return out;
  json uses = json::parse(a[kAnnoUsage].get<std::string>(), nullptr, false);
  if (!uses.is_object()) return out;
  // Only times a clock could have written count: "~" or a year 9999 would sort above every
  // real use and stop them being recorded.
  for (auto& [digest, when] : uses.items()) {
    if (when.is_string() && is_valid_digest(digest) && parse_written_time(when.get<std::string>()))
      out[digest] = when.get<std::string>();
  }
  return out;
}

// Keeps the newest kMaxUsageRecords records (by time, not by text), `digest`'s always.
void bound(UsageTimes* uses, const std::string& digest) {
  if (uses->size() <= kMaxUsageRecords) return;
  std::vector<std::pair<TimePoint, std::string>> v;
  for (const auto& [d, when] : *uses) {
    if (d != digest) v.emplace_back(parse_rfc3339(when).value_or(TimePoint{}), d);
  }
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  v.resize(kMaxUsageRecords - 1);
  UsageTimes kept;
  kept[digest] = (*uses)[digest];
  for (const auto& [t, d] : v) kept[d] = (*uses)[d];
  *uses = std::move(kept);
}

std::string usage_manifest(const UsageTimes& uses, const std::string& now) {
  json desc = descriptor_json(oci_empty_descriptor());
  json j = {{"schemaVersion", 2},
            {"mediaType", kOciManifest},
            {"artifactType", kUsageArtifactType},
            {"config", desc},
            {"layers", json::array({desc})},
            {"annotations", {{kAnnoCreated, now}, {kAnnoUsage, json(uses).dump()}}}};
  return j.dump();
}

// Writes the record `current` (the tag's manifest as read, nullopt when there was none)
// with digest used at `now`. The empty blob is sent only when no record existed, or the
// store says the manifest names a blob it lacks: an existing record already holds it.
Status record_in_tag(Store& store, const std::optional<FetchedManifest>& current,
                     const std::string& digest, const std::string& now) {
  UsageTimes uses;
  if (current) uses = parse_usage_manifest(current->bytes);
  auto it = uses.find(digest);
  if (it != uses.end() && parse_rfc3339(it->second) >= parse_rfc3339(now)) return {};
  uses[digest] = now;
  bound(&uses, digest);
  const std::string manifest = usage_manifest(uses, now);
  if (!current) RC_CHECK(put_empty_blob(store));
  auto put = store.put_manifest(kUsageTag, manifest, kOciManifest);
  if (!put.ok() && current && put.error().kind == ErrorKind::not_found) {
    RC_CHECK(put_empty_blob(store));
    put = store.put_manifest(kUsageTag, manifest, kOciManifest);
  }
  return put.ok() ? Status{} : Status(put.error());
}

void log_failure(const std::string& digest, const Status& st) {
  if (!st.ok()) log_verbose("could not record the use of " + digest + ": " + st.error().message);
}

}  // namespace

UsageRecorder::UsageRecorder(Store& store) : store_(store), thread_([this] { run(); }) {}

UsageRecorder::~UsageRecorder() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void UsageRecorder::matched(const std::string& digest) {
  {
    std::lock_guard lock(mu_);
    if (digest_) return;
    digest_ = digest;
  }
  cv_.notify_all();
}

void UsageRecorder::run() {
  UsageRecords* native = store_.usage();
  std::optional<Result<std::optional<FetchedManifest>>> current;
  if (!native) store_.prepare_writes();  // its token, beside the read: the write waits on none
  if (!native) current = store_.get_manifest(kUsageTag);
  std::string digest;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return digest_.has_value() || closed_; });
    if (!digest_) return;  // no match: nothing to record
    digest = *digest_;
  }
  const std::string now = now_rfc3339();
  if (native) return log_failure(digest, native->record_use(digest, now));
  log_failure(digest, current->ok() ? record_in_tag(store_, **current, digest, now)
                                    : Status(current->error()));
}

Result<UsageTimes> read_usage(Store& store) {
  if (UsageRecords* native = store.usage()) return native->read_uses();
  auto m = RC_TRY(store.get_manifest(kUsageTag));
  return m ? parse_usage_manifest(m->bytes) : UsageTimes{};
}

}  // namespace regcache
