#include "regcache/store/referrers.hpp"

#include <nlohmann/json.hpp>

#include "regcache/oci/media_types.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

using nlohmann::json;

namespace {

// Reads the referrers index at tag; an empty index when there is none.
Result<json> read_index(Store& store, const std::string& tag, bool* exists) {
  auto m = RC_TRY(store.get_manifest(tag));
  *exists = m.has_value();
  if (!m) return json{{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", json::array()}};
  json j = json::parse(m->bytes, nullptr, false);
  if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array())
    return make_error(ErrorKind::integrity, "referrers tag " + tag + " in " + store.describe() +
                                                " is not an image index");
  return j;
}

}  // namespace

std::string referrers_tag(const std::string& subject_digest) {
  std::string t = subject_digest;
  if (auto colon = t.find(':'); colon != std::string::npos) t[colon] = '-';
  return t;
}

bool is_referrers_tag(const std::string& tag) {
  if (tag.size() != 71 || tag.rfind("sha256-", 0) != 0) return false;
  std::string digest = tag;
  digest[6] = ':';
  return is_valid_digest(digest);
}

Status add_referrer(Store& store, const std::string& subject_digest, const Descriptor& referrer,
                    const std::string& artifact_type) {
  const std::string tag = referrers_tag(subject_digest);
  bool exists = false;
  json idx = RC_TRY(read_index(store, tag, &exists));
  for (const auto& m : idx["manifests"]) {
    if (string_field(m, "digest") == referrer.digest) return {};
  }
  json d = {{"mediaType", referrer.media_type},
            {"digest", referrer.digest},
            {"size", referrer.size},
            {"artifactType", artifact_type}};
  if (!referrer.annotations.empty()) d["annotations"] = referrer.annotations;
  idx["manifests"].push_back(d);
  RC_TRY(store.put_manifest(tag, idx.dump(), kOciIndex));
  return {};
}

Result<std::vector<Referrer>> list_referrers(Store& store, const std::string& subject_digest) {
  bool exists = false;
  json idx = RC_TRY(read_index(store, referrers_tag(subject_digest), &exists));
  std::vector<Referrer> out;
  for (const auto& m : idx["manifests"]) {
    Referrer r;
    r.manifest.media_type = string_field(m, "mediaType");
    r.manifest.digest = string_field(m, "digest");
    r.manifest.size = uint_field(m, "size").value_or(0);
    r.artifact_type = string_field(m, "artifactType");
    if (m.contains("annotations") && m["annotations"].is_object()) {
      for (const auto& [k, v] : m["annotations"].items()) {
        if (v.is_string()) r.manifest.annotations[k] = v.get<std::string>();
      }
    }
    if (is_valid_digest(r.manifest.digest)) out.push_back(std::move(r));
  }
  return out;
}

Status delete_referrers(Store& store, const std::string& subject_digest) {
  const std::string tag = referrers_tag(subject_digest);
  auto list = RC_TRY(store.get_manifest(tag));
  if (!list) return {};
  // A list that does not parse is deleted all the same: it refers to nothing regcache knows.
  auto referrers = list_referrers(store, subject_digest);
  if (!referrers.ok() && referrers.error().kind != ErrorKind::integrity) return referrers.error();
  for (const auto& r : referrers.ok() ? *referrers : std::vector<Referrer>{}) {
    auto st = store.delete_manifest(r.manifest.digest);
    if (!st.ok() && st.error().kind != ErrorKind::not_found) return st;
  }
  auto st = store.delete_manifest(list->digest);
  if (!st.ok() && st.error().kind != ErrorKind::not_found) return st;
  return {};
}

}  // namespace regcache
