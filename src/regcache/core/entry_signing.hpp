// Signing an entry and checking its signatures (docs/format.md, "Signatures"): a save with
// a key stores a signature of the entry manifest's digest as a referrer of the entry;
// a restore with verify keys counts an entry only when one of its signatures is valid for
// one of them.
#pragma once

#include <string>
#include <vector>

#include "regcache/oci/descriptor.hpp"
#include "regcache/store/store.hpp"
#include "regcache/util/ed25519.hpp"

namespace regcache {

// Signs the entry manifest `entry` (already stored, tagged or not) with key and stores the
// signature as its referrer.
Status sign_entry(Store& store, const Descriptor& entry, const Ed25519Key& key);

// The outcome of checking an entry's signatures.
struct SignatureCheck {
  bool valid = false;
  std::string key_fingerprint;  // the key of the valid signature
  std::string reason;           // why none is valid, for -v
};

// Checks the signatures of entry manifest `entry_digest` against keys; a store failure is
// an error, a missing, forged, malformed or foreign signature (is_content_error) is a check
// that is not valid.
Result<SignatureCheck> check_entry_signature(Store& store, const std::string& entry_digest,
                                             const std::vector<Ed25519Key>& keys);

// Returns the key fingerprints that the entry's signatures claim (not checked), for list.
Result<std::vector<std::string>> claimed_signers(Store& store, const std::string& entry_digest);

}  // namespace regcache
