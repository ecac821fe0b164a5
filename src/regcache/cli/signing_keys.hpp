// The keys of signed entries at the command boundary: read from the files the options name
// or from the variables CI secrets arrive in, checked before any work starts (a bad key is
// exit 2 naming its file or variable, never showing its content).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "regcache/util/ed25519.hpp"

namespace regcache {

// Returns the signing key of --sign-key FILE, else of REGCACHE_SIGNING_KEY (PEM, or the path
// of a PEM file); nullopt if neither.
std::optional<Ed25519Key> load_signing_key(const std::string& file);

// Returns the keys of every --verify-key FILE, else those of REGCACHE_VERIFY_KEYS (PEM, or
// the path of a PEM file).
std::vector<Ed25519Key> load_verify_keys(const std::vector<std::string>& files);

}  // namespace regcache
