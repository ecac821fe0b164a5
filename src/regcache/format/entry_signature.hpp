// The signature of an entry (docs/format.md, "Signatures"): an Ed25519 signature of a short
// text naming the entry manifest's digest, kept in a blob of an OCI 1.1 artifact manifest
// whose subject is the entry and whose annotation names the signing key's fingerprint.
#pragma once

#include <string>

#include "regcache/oci/descriptor.hpp"
#include "regcache/util/result.hpp"

namespace regcache {

inline constexpr const char* kSignatureArtifactType = "application/vnd.dev.regcache.signature.v1";
inline constexpr const char* kSignatureBlobType =
    "application/vnd.dev.regcache.signature.v1.ed25519";
inline constexpr const char* kAnnoSignatureKey = "dev.regcache.signature.key";
// Returns the bytes an entry's signature signs: "regcache entry signature v1\n<digest>\n".
std::string signature_payload(const std::string& manifest_digest);

// Returns the artifact manifest holding the signature blob `signature` of `subject`, made
// by the key with fingerprint `key_fingerprint`.
std::string build_signature_manifest(const Descriptor& subject, const Descriptor& signature,
                                     const std::string& key_fingerprint,
                                     const std::string& created);

// What a signature manifest says.
struct SignatureManifest {
  std::string subject_digest;
  Descriptor signature;  // the blob holding the raw signature
  std::string key_fingerprint;
};

// Parses a signature manifest; an error names what is missing or malformed.
Result<SignatureManifest> parse_signature_manifest(const std::string& json);

}  // namespace regcache
