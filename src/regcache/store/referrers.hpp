// OCI 1.1 referrers through the referrers tag schema, on every store alike: the tag
// "sha256-<hex of the subject digest>" holds an image index of the manifests that refer
// to that subject. Registries without the referrers API (distribution 2.8, ghcr.io) need
// it; registries with the API also index the subject themselves; in a local layout the tag
// is one more entry of index.json. docs/decisions.md says why regcache reads only the tag.
#pragma once

#include <string>
#include <vector>

#include "regcache/oci/descriptor.hpp"
#include "regcache/store/store.hpp"

namespace regcache {

// Returns the referrers tag of a manifest digest ("sha256:<hex>" -> "sha256-<hex>").
std::string referrers_tag(const std::string& subject_digest);

// Returns true when tag is a referrers tag (not a cache entry).
bool is_referrers_tag(const std::string& tag);

// Adds `referrer` (a manifest already stored by digest, with its artifactType and
// annotations) to subject_digest's referrers list.
Status add_referrer(Store& store, const std::string& subject_digest, const Descriptor& referrer,
                    const std::string& artifact_type);

// A referrer as its list describes it.
struct Referrer {
  Descriptor manifest;
  std::string artifact_type;
};

// Returns the referrers of subject_digest (none when it has no list).
Result<std::vector<Referrer>> list_referrers(Store& store, const std::string& subject_digest);

// The longest referrers list delete_referrers works through (one request per manifest).
inline constexpr size_t kMaxReferrersDeleted = 64;

// Deletes the referrer manifests of subject_digest (those naming it as their subject), then
// its list when the list is an index naming no other manifest; anything else stays, and so
// does a list of more than kMaxReferrersDeleted manifests.
Status delete_referrers(Store& store, const std::string& subject_digest);

}  // namespace regcache
