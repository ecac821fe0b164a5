#include "regcache/format/entry_signature.hpp"

#include <nlohmann/json.hpp>

#include "regcache/format/descriptor_json.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/oci/empty_blob.hpp"
#include "regcache/oci/media_types.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

using nlohmann::json;

std::string signature_payload(const std::string& manifest_digest) {
  return "regcache entry signature v1\n" + manifest_digest + "\n";
}

std::string build_signature_manifest(const Descriptor& subject, const Descriptor& signature,
                                     const std::string& key_fingerprint,
                                     const std::string& created) {
  json m = {{"schemaVersion", 2},
            {"mediaType", kOciManifest},
            {"artifactType", kSignatureArtifactType},
            {"config", descriptor_json(oci_empty_descriptor())},
            {"layers", json::array({descriptor_json(signature)})},
            {"subject", descriptor_json(subject)},
            {"annotations", {{kAnnoSignatureKey, key_fingerprint}, {kAnnoCreated, created}}}};
  return m.dump();
}

Result<SignatureManifest> parse_signature_manifest(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  auto bad = [](const std::string& what) {
    return make_error(ErrorKind::integrity, "malformed signature manifest: " + what);
  };
  if (!j.is_object()) return bad("not a JSON object");
  if (string_field(j, "artifactType") != kSignatureArtifactType)
    return bad("not a regcache signature");
  SignatureManifest s;
  if (!j.contains("subject")) return bad("no subject");
  s.subject_digest = string_field(j["subject"], "digest");
  if (!is_valid_digest(s.subject_digest)) return bad("no subject digest");
  if (!j.contains("layers") || !j["layers"].is_array() || j["layers"].size() != 1)
    return bad("not exactly one signature blob");
  const json& l = j["layers"][0];
  s.signature.media_type = string_field(l, "mediaType");
  s.signature.digest = string_field(l, "digest");
  auto size = uint_field(l, "size");
  if (s.signature.media_type != kSignatureBlobType || !is_valid_digest(s.signature.digest) || !size)
    return bad("the signature blob's descriptor");
  s.signature.size = *size;
  if (j.contains("annotations"))
    s.key_fingerprint = string_field(j["annotations"], kAnnoSignatureKey);
  if (!is_valid_digest(s.key_fingerprint)) return bad("no key fingerprint");
  return s;
}

}  // namespace regcache
