#include "regcache/store/referrers.hpp"

#include <nlohmann/json.hpp>

#include "regcache/oci/media_types.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/log.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

using nlohmann::json;

namespace {

// Parses a referrers index; an integrity error naming the tag when it is not one.
Result<json> parse_index(const std::string& bytes, const std::string& tag, const Store& store) {
  json j = json::parse(bytes, nullptr, false);
  if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array())
    return make_error(ErrorKind::integrity, "referrers tag " + tag + " in " + store.describe() +
                                                " is not an image index");
  return j;
}

// Reads the referrers index at tag; an empty index when there is none.
Result<json> read_index(Store& store, const std::string& tag, bool* exists) {
  auto m = RC_TRY(store.get_manifest(tag));
  *exists = m.has_value();
  if (!m) return json{{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", json::array()}};
  return parse_index(m->bytes, tag, store);
}

// The referrers an index lists (entries without a valid digest left out).
std::vector<Referrer> listed_referrers(const json& idx) {
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

enum class Referral { gone, refers, other };

// Says whether the manifest `digest` is there and names subject_digest as its subject.
Result<Referral> referral_of(Store& store, const std::string& digest,
                             const std::string& subject_digest) {
  auto got = store.get_manifest(digest);
  if (!got.ok()) {
    // What a pusher can make the registry refuse is left alone, as is whatever it names.
    if (!is_content_error(got.error().kind)) return got.error();
    return Referral::other;
  }
  const auto& m = *got;
  if (!m) return Referral::gone;
  json j = json::parse(m->bytes, nullptr, false);
  const bool refers = m->digest == digest && j.is_object() && j.contains("subject") &&
                      j["subject"].is_object() &&
                      string_field(j["subject"], "digest") == subject_digest;
  return refers ? Referral::refers : Referral::other;
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
  return listed_referrers(idx);
}

Status delete_referrers(Store& store, const std::string& subject_digest) {
  const std::string tag = referrers_tag(subject_digest);
  auto list = RC_TRY(store.get_manifest(tag));
  if (!list) return {};
  // Anyone who may push may write this tag: only manifests that name the entry as their
  // subject go with it, and the list itself only when it is an index of nothing else (a tag
  // pointing at another entry, or a list naming one, must not make its deletion ours).
  auto idx = parse_index(list->bytes, tag, store);
  if (!idx.ok()) {
    log_verbose(idx.error().message + ": left as it is");
    return {};
  }
  // A list longer than any of ours (a signature per key) is someone else's: checking each
  // of tens of thousands would cost a request apiece.
  const auto listed = listed_referrers(*idx);
  if (listed.size() > kMaxReferrersDeleted) {
    log_verbose("referrers tag " + tag + " lists " + std::to_string(listed.size()) +
                " manifests: left as it is");
    return {};
  }
  bool only_ours = true;
  for (const auto& r : listed) {
    const Referral referral = RC_TRY(referral_of(store, r.manifest.digest, subject_digest));
    if (referral == Referral::other) {
      log_verbose("referrers tag " + tag + " lists " + r.manifest.digest +
                  ", which does not refer to the entry: left as it is");
      only_ours = false;
      continue;
    }
    if (referral == Referral::gone) continue;
    auto st = store.delete_manifest(r.manifest.digest);
    if (!st.ok() && st.error().kind != ErrorKind::not_found) return st;
  }
  if (!only_ours) return {};
  auto st = store.delete_manifest(list->digest);
  if (!st.ok() && st.error().kind != ErrorKind::not_found) return st;
  return {};
}

}  // namespace regcache
