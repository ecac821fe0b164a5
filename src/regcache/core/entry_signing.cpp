#include "regcache/core/entry_signing.hpp"

#include "regcache/format/entry_format.hpp"
#include "regcache/format/entry_signature.hpp"
#include "regcache/oci/media_types.hpp"
#include "regcache/store/empty_blob.hpp"
#include "regcache/store/fetch_verified.hpp"
#include "regcache/store/referrers.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

constexpr uint64_t kMaxSignatureBytes = 1024;
// Signatures checked per entry at most: each costs requests, and an entry has one or two.
constexpr size_t kMaxSignaturesChecked = 16;

Status put_if_missing(Store& store, const Descriptor& d, const std::string& bytes) {
  if (RC_TRY(store.has_blob(d))) return {};
  return store.put_blob(d, {"", bytes});
}

// Returns true when the list names one of the keys as the referrer's signer.
bool claims_a_key(const Referrer& r, const std::vector<Ed25519Key>& keys) {
  auto claimed = r.manifest.annotations.find(kAnnoSignatureKey);
  if (claimed == r.manifest.annotations.end()) return false;
  for (const auto& k : keys) {
    if (claimed->second == k.fingerprint()) return true;
  }
  return false;
}

// Checks one signature manifest against the entry and the keys; "" when valid, else why not.
Result<std::string> check_one(Store& store, const Referrer& r, const std::string& entry_digest,
                              const std::vector<Ed25519Key>& keys, std::string* fingerprint) {
  auto claimed = r.manifest.annotations.find(kAnnoSignatureKey);
  const Ed25519Key* key = nullptr;
  for (const auto& k : keys) {
    if (claimed != r.manifest.annotations.end() && claimed->second == k.fingerprint()) key = &k;
  }
  if (!key) {
    return "signed by " +
           (claimed == r.manifest.annotations.end() ? std::string("an unnamed key")
                                                    : claimed->second) +
           ", not by a --verify-key";
  }
  auto m = RC_TRY(store.get_manifest(r.manifest.digest));
  if (!m || m->digest != r.manifest.digest) return std::string("its signature manifest is missing");
  auto sig = parse_signature_manifest(m->bytes);
  if (!sig.ok()) return sig.error().message;
  if (sig->subject_digest != entry_digest) return std::string("the signature is for another entry");
  if (sig->key_fingerprint != key->fingerprint())
    return std::string("the signature names another key");
  if (sig->signature.size > kMaxSignatureBytes)
    return std::string("the signature blob is too large");
  StringSink bytes(kMaxSignatureBytes);
  auto got = fetch_verified(store, sig->signature, &bytes);
  if (!got.ok() && !is_content_error(got.error().kind)) return got.error();
  if (!got.ok()) return "the signature blob: " + got.error().message;
  if (!key->verify(signature_payload(entry_digest), bytes.str()))
    return "the signature by " + key->fingerprint() + " does not match the entry";
  *fingerprint = key->fingerprint();
  return std::string();
}

}  // namespace

Status sign_entry(Store& store, const Descriptor& entry, const Ed25519Key& key) {
  std::string signature = RC_TRY(key.sign(signature_payload(entry.digest)));
  Descriptor sig{kSignatureBlobType, sha256_digest(signature), signature.size(), {}};
  RC_CHECK(put_if_missing(store, sig, signature));
  RC_CHECK(put_empty_blob(store));
  std::string manifest = build_signature_manifest(entry, sig, key.fingerprint(), now_rfc3339());
  std::string digest = sha256_digest(manifest);
  RC_TRY(store.put_manifest(digest, manifest, kOciManifest));
  Descriptor listed{
      kOciManifest, digest, manifest.size(), {{kAnnoSignatureKey, key.fingerprint()}}};
  return add_referrer(store, entry.digest, listed, kSignatureArtifactType);
}

Result<SignatureCheck> check_entry_signature(Store& store, const std::string& entry_digest,
                                             const std::vector<Ed25519Key>& keys) {
  SignatureCheck check;
  check.reason = "it is not signed";
  // Malformed content where a signature should be is a signature that is not valid (an
  // entry must not be able to stop a restore); a store that cannot be read is an error.
  auto content_or_error = [&](const Error& e) -> Result<SignatureCheck> {
    if (!is_content_error(e.kind)) return e;
    check.reason = e.message;
    return check;
  };
  auto referrers = list_referrers(store, entry_digest);
  if (!referrers.ok()) return content_or_error(referrers.error());
  size_t checked_count = 0;
  for (const auto& r : *referrers) {
    if (r.artifact_type != kSignatureArtifactType) continue;
    // Only signatures that claim one of the keys cost requests, and count toward the cap:
    // junk listed first under other names does not hide a valid one.
    if (claims_a_key(r, keys) && ++checked_count > kMaxSignaturesChecked) break;
    std::string fingerprint;
    auto checked = check_one(store, r, entry_digest, keys, &fingerprint);
    if (!checked.ok()) {
      // Malformed content in one signature does not hide a valid one listed after it.
      if (!is_content_error(checked.error().kind)) return checked.error();
      check.reason = checked.error().message;
      continue;
    }
    const std::string& why = *checked;
    if (why.empty()) {
      check.valid = true;
      check.key_fingerprint = fingerprint;
      check.reason.clear();
      return check;
    }
    check.reason = why;
  }
  return check;
}

Result<std::vector<std::string>> claimed_signers(Store& store, const std::string& entry_digest) {
  std::vector<std::string> out;
  for (const auto& r : RC_TRY(list_referrers(store, entry_digest))) {
    if (r.artifact_type != kSignatureArtifactType) continue;
    auto k = r.manifest.annotations.find(kAnnoSignatureKey);
    if (k != r.manifest.annotations.end()) out.push_back(k->second);
  }
  return out;
}

}  // namespace regcache
