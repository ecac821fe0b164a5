// Signed entries against the in-memory store: Ed25519 keys and fingerprints, a signature
// stored as a referrer and checked, and everything that must not pass: another key, a
// signature copied from another entry, a changed signature blob, a manifest that is not a
// signature; and the lookup taking the newest validly signed entry of a prefix.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "owning_store.hpp"
#include "regcache/core/entry_signing.hpp"
#include "regcache/core/lookup.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/format/entry_signature.hpp"
#include "regcache/oci/media_types.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "regcache/store/referrers.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {
namespace {

Ed25519Key new_key() {
  auto k = Ed25519Key::generate();
  EXPECT_TRUE(k.ok());
  return std::move(k).value();
}

// Stores an entry manifest (no layers) under the tag of key; returns its descriptor.
Descriptor put_sample_entry(Store& store, const std::string& key, const std::string& created) {
  EntryInfo info;
  info.key = key;
  info.created = created;
  info.roots = {"ws/cache"};
  std::string config = build_config({});
  info.config = {kOciConfig, sha256_digest(config), config.size(), {}};
  std::string m = build_manifest(info);
  auto digest = store.put_manifest(key, m, kOciManifest);
  EXPECT_TRUE(digest.ok());
  return {kOciManifest, digest.value(), m.size(), {}};
}

TEST(Ed25519, SignsVerifiesAndReadsItsOwnPem) {
  Ed25519Key key = new_key();
  ASSERT_TRUE(key.can_sign());
  auto sig = key.sign("message");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(key.verify("message", *sig));
  EXPECT_FALSE(key.verify("messagf", *sig));

  auto pub = Ed25519Key::from_public_pems(key.public_pem().value(), "pub");
  ASSERT_TRUE(pub.ok());
  ASSERT_EQ(pub->size(), 1u);
  EXPECT_FALSE((*pub)[0].can_sign());
  EXPECT_TRUE((*pub)[0].verify("message", *sig));
  EXPECT_EQ((*pub)[0].fingerprint(), key.fingerprint());
  EXPECT_TRUE(is_valid_digest(key.fingerprint()));

  auto again = Ed25519Key::from_private_pem(key.private_pem().value(), "key");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->fingerprint(), key.fingerprint());
}

TEST(Ed25519, ReadsSeveralPublicKeysAndRefusesWhatIsNotAKey) {
  Ed25519Key a = new_key(), b = new_key();
  auto both =
      Ed25519Key::from_public_pems(a.public_pem().value() + "\n" + b.public_pem().value(), "VAR");
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[1].fingerprint(), b.fingerprint());

  auto none = Ed25519Key::from_public_pems("hello", "VAR");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, ErrorKind::usage);
  EXPECT_EQ(none.error().message, "VAR: no public key in PEM form");
  auto pub_as_private = Ed25519Key::from_private_pem(a.public_pem().value(), "FILE");
  ASSERT_FALSE(pub_as_private.ok());
  EXPECT_EQ(pub_as_private.error().message, "FILE: not a private key in PEM form");
  auto private_as_public = Ed25519Key::from_public_pems(a.private_pem().value(), "FILE");
  ASSERT_FALSE(private_as_public.ok());
  EXPECT_EQ(private_as_public.error().message,
            "FILE: a private key; give the public key (regcache.pub) to verify");
}

TEST(EntrySigning, ASignatureByTheKeyIsValidAndListed) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor entry = put_sample_entry(*store, "k1", "2024-01-01T00:00:00Z");
  ASSERT_TRUE(sign_entry(*store, entry, key).ok());

  auto check = check_entry_signature(*store, entry.digest, {key});
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->valid) << check->reason;
  EXPECT_EQ(check->key_fingerprint, key.fingerprint());
  auto signers = claimed_signers(*store, entry.digest);
  ASSERT_TRUE(signers.ok());
  EXPECT_EQ(*signers, std::vector<std::string>{key.fingerprint()});
  auto tags = store->list_tags().value();
  EXPECT_NE(std::find(tags.begin(), tags.end(), referrers_tag(entry.digest)), tags.end());
}

TEST(EntrySigning, UnsignedOrSignedByAnotherKeyIsNotValid) {
  auto store = make_memory_store();
  Ed25519Key key = new_key(), other = new_key();
  Descriptor entry = put_sample_entry(*store, "k1", "2024-01-01T00:00:00Z");
  auto unsigned_check = check_entry_signature(*store, entry.digest, {key});
  ASSERT_TRUE(unsigned_check.ok());
  EXPECT_FALSE(unsigned_check->valid);
  EXPECT_EQ(unsigned_check->reason, "it is not signed");

  ASSERT_TRUE(sign_entry(*store, entry, other).ok());
  auto check = check_entry_signature(*store, entry.digest, {key});
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->valid);
  EXPECT_NE(check->reason.find("not by a --verify-key"), std::string::npos) << check->reason;
}

TEST(EntrySigning, ASignatureCopiedFromAnotherEntryIsNotValid) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor signed_entry = put_sample_entry(*store, "a", "2024-01-01T00:00:00Z");
  Descriptor other = put_sample_entry(*store, "b", "2024-01-02T00:00:00Z");
  ASSERT_TRUE(sign_entry(*store, signed_entry, key).ok());
  // b's referrers list gets a's signature manifest, annotation and all.
  auto a_refs = list_referrers(*store, signed_entry.digest).value();
  ASSERT_EQ(a_refs.size(), 1u);
  ASSERT_TRUE(add_referrer(*store, other.digest, a_refs[0].manifest, a_refs[0].artifact_type).ok());
  auto check = check_entry_signature(*store, other.digest, {key});
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->valid);
  EXPECT_EQ(check->reason, "the signature is for another entry");
}

TEST(EntrySigning, ASignatureMadeForTheEntryButOverOtherBytesIsNotValid) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor entry = put_sample_entry(*store, "k1", "2024-01-01T00:00:00Z");
  // A signature manifest naming the entry, whose signature signs something else.
  std::string forged = key.sign(signature_payload(sha256_digest("elsewhere"))).value();
  Descriptor blob{kSignatureBlobType, sha256_digest(forged), forged.size(), {}};
  ASSERT_TRUE(store->put_blob(blob, {"", forged}).ok());
  std::string manifest =
      build_signature_manifest(entry, blob, key.fingerprint(), "2024-01-01T00:00:00Z");
  std::string digest = sha256_digest(manifest);
  ASSERT_TRUE(store->put_manifest(digest, manifest, kOciManifest).ok());
  ASSERT_TRUE(add_referrer(
                  *store, entry.digest,
                  {kOciManifest, digest, manifest.size(), {{kAnnoSignatureKey, key.fingerprint()}}},
                  kSignatureArtifactType)
                  .ok());
  auto check = check_entry_signature(*store, entry.digest, {key});
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->valid);
  EXPECT_NE(check->reason.find("does not match the entry"), std::string::npos) << check->reason;
}

TEST(EntrySigning, AMalformedReferrersListIsAnInvalidSignatureNotAnError) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor entry = put_sample_entry(*store, "k1", "2024-01-01T00:00:00Z");
  ASSERT_TRUE(store->put_manifest(referrers_tag(entry.digest), "[1,2,3]", kOciIndex).ok());
  auto check = check_entry_signature(*store, entry.digest, {key});
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->valid);
  EXPECT_NE(check->reason.find("is not an image index"), std::string::npos) << check->reason;
}

TEST(EntrySigning, ABadSignatureListedFirstDoesNotHideAValidOne) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor entry = put_sample_entry(*store, "k1", "2024-01-01T00:00:00Z");
  // A referrer naming the key whose manifest is not a signature at all, listed first.
  std::string junk =
      R"({"schemaVersion":2,"artifactType":"application/vnd.dev.regcache.signature.v1"})";
  std::string junk_digest = sha256_digest(junk);
  ASSERT_TRUE(store->put_manifest(junk_digest, junk, kOciManifest).ok());
  ASSERT_TRUE(
      add_referrer(
          *store, entry.digest,
          {kOciManifest, junk_digest, junk.size(), {{kAnnoSignatureKey, key.fingerprint()}}},
          kSignatureArtifactType)
          .ok());
  ASSERT_TRUE(sign_entry(*store, entry, key).ok());
  ASSERT_EQ(list_referrers(*store, entry.digest).value().size(), 2u);
  auto check = check_entry_signature(*store, entry.digest, {key});
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->valid) << check->reason;
}

TEST(EntrySigning, TheLookupTakesTheNewestValidlySignedEntryOfAPrefix) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor older = put_sample_entry(*store, "build-1", "2024-01-01T00:00:00Z");
  put_sample_entry(*store, "build-2", "2024-02-01T00:00:00Z");  // newest, unsigned
  ASSERT_TRUE(sign_entry(*store, older, key).ok());

  EntryFilter filter;
  filter.verify_keys = {key};
  auto found = find_entry(*store, "build-2", {"build-"}, filter);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->info.key, "build-1");
  EXPECT_EQ((*found)->match, Match::prefix);
  EXPECT_EQ((*found)->signer, key.fingerprint());

  auto without = find_entry(*store, "build-2", {"build-"}, {});
  ASSERT_TRUE(without.ok() && without->has_value());
  EXPECT_EQ((*without)->info.key, "build-2");

  EntryFilter other;
  other.verify_keys = {new_key()};
  auto none = find_entry(*store, "build-2", {"build-"}, other);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

// Deleting an entry's signatures (prune, delete) takes only manifests that name the entry as
// their subject: whoever may push can list another entry, or its signature, in this entry's
// referrers tag, or point the tag at another entry.
TEST(EntrySigning, DeletingSignaturesTakesOnlyWhatRefersToTheEntry) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor doomed = put_sample_entry(*store, "old", "2020-01-01T00:00:00Z");
  Descriptor kept = put_sample_entry(*store, "new", "2024-01-01T00:00:00Z");
  ASSERT_TRUE(sign_entry(*store, doomed, key).ok());
  ASSERT_TRUE(sign_entry(*store, kept, key).ok());
  const std::string own_signature =
      list_referrers(*store, doomed.digest).value()[0].manifest.digest;
  const std::string kept_signature = list_referrers(*store, kept.digest).value()[0].manifest.digest;
  for (const auto& planted : {kept.digest, kept_signature})
    ASSERT_TRUE(add_referrer(*store, doomed.digest, {kOciManifest, planted, 100, {}},
                             kSignatureArtifactType)
                    .ok());
  ASSERT_TRUE(delete_referrers(*store, doomed.digest).ok());
  EXPECT_FALSE(store->get_manifest(own_signature).value().has_value());
  EXPECT_TRUE(store->get_manifest(kept.digest).value().has_value());
  auto check = check_entry_signature(*store, kept.digest, {key});
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->valid) << check->reason;
  EXPECT_TRUE(store->get_manifest(referrers_tag(doomed.digest)).value().has_value())
      << "a list naming another entry's manifests is not the doomed entry's to delete";

  // The tag pointing straight at the kept entry's manifest.
  Descriptor other = put_sample_entry(*store, "other", "2020-01-02T00:00:00Z");
  auto kept_bytes = store->get_manifest(kept.digest).value()->bytes;
  ASSERT_TRUE(store->put_manifest(referrers_tag(other.digest), kept_bytes, kOciManifest).ok());
  ASSERT_TRUE(delete_referrers(*store, other.digest).ok());
  EXPECT_TRUE(store->get_manifest(kept.digest).value().has_value());
  EXPECT_TRUE(store->get_manifest("new").value().has_value());
}

// Counts manifest reads (each a request on a registry).
class CountingManifestReads : public testing::OwningForwardingStore {
 public:
  using OwningForwardingStore::OwningForwardingStore;
  Result<std::optional<FetchedManifest>> get_manifest(const std::string& ref) override {
    ++reads;
    return next().get_manifest(ref);
  }
  int reads = 0;
};

// A list of thousands (4 MiB holds some 40,000) would cost a request each to check: past
// what any entry of ours has, it is left alone.
TEST(EntrySigning, DeletingSignaturesLeavesAListLongerThanOursAlone) {
  CountingManifestReads store(make_memory_store());
  Descriptor entry = put_sample_entry(store, "k1", "2024-01-01T00:00:00Z");
  nlohmann::json list = {
      {"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", nlohmann::json::array()}};
  for (int i = 0; i < 1000; ++i) {
    std::string hex = std::to_string(i);
    list["manifests"].push_back({{"mediaType", kOciManifest},
                                 {"digest", "sha256:" + std::string(64 - hex.size(), 'e') + hex},
                                 {"size", 100},
                                 {"artifactType", kSignatureArtifactType}});
  }
  ASSERT_TRUE(store.put_manifest(referrers_tag(entry.digest), list.dump(), kOciIndex).ok());
  store.reads = 0;
  ASSERT_TRUE(delete_referrers(store, entry.digest).ok());
  EXPECT_LE(store.reads, 2) << "each listed manifest was read";
  EXPECT_TRUE(store.get_manifest(referrers_tag(entry.digest)).value().has_value());
}

TEST(EntrySigning, DeletingSignaturesTakesTheListWhenItIsTheEntrys) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor entry = put_sample_entry(*store, "k1", "2024-01-01T00:00:00Z");
  ASSERT_TRUE(sign_entry(*store, entry, key).ok());
  const std::string signature = list_referrers(*store, entry.digest).value()[0].manifest.digest;
  ASSERT_TRUE(delete_referrers(*store, entry.digest).ok());
  EXPECT_FALSE(store->get_manifest(signature).value().has_value());
  EXPECT_FALSE(store->get_manifest(referrers_tag(entry.digest)).value().has_value());
}

// A store that answers one manifest with a given error (a registry refusing an odd request).
class RefusingOneManifest : public testing::OwningForwardingStore {
 public:
  RefusingOneManifest(std::unique_ptr<Store> store, std::string digest, ErrorKind kind)
      : OwningForwardingStore(std::move(store)), digest_(std::move(digest)), kind_(kind) {}
  Result<std::optional<FetchedManifest>> get_manifest(const std::string& ref) override {
    if (ref == digest_) return make_error(kind_, "HTTP 400 for " + ref);
    return next().get_manifest(ref);
  }

 private:
  std::string digest_;
  ErrorKind kind_;
};

// What a pusher can make a registry refuse (a signature manifest it names) makes that
// signature not valid, and the lookup goes on to the next signed entry; a registry out of
// reach is still an error.
TEST(EntrySigning, ARefusedSignatureIsNotValidAndTheLookupGoesOn) {
  auto inner = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor older = put_sample_entry(*inner, "build-1", "2024-01-01T00:00:00Z");
  Descriptor newest = put_sample_entry(*inner, "build-2", "2024-02-01T00:00:00Z");
  ASSERT_TRUE(sign_entry(*inner, older, key).ok());
  const std::string planted = sha256_digest("no such signature");
  ASSERT_TRUE(add_referrer(*inner, newest.digest,
                           {kOciManifest, planted, 100, {{kAnnoSignatureKey, key.fingerprint()}}},
                           kSignatureArtifactType)
                  .ok());
  EntryFilter filter;
  filter.verify_keys = {key};
  RefusingOneManifest refusing(std::move(inner), planted, ErrorKind::generic);
  auto check = check_entry_signature(refusing, newest.digest, {key});
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_FALSE(check->valid);
  auto found = find_entry(refusing, "build-3", {"build-"}, filter);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->info.key, "build-1");
}

TEST(EntrySigning, ASignatureOutOfReachIsAnError) {
  auto inner = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor entry = put_sample_entry(*inner, "k1", "2024-01-01T00:00:00Z");
  ASSERT_TRUE(sign_entry(*inner, entry, key).ok());
  const std::string signature = list_referrers(*inner, entry.digest).value()[0].manifest.digest;
  RefusingOneManifest unreachable(std::move(inner), signature, ErrorKind::network);
  auto check = check_entry_signature(unreachable, entry.digest, {key});
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.error().kind, ErrorKind::network);
}

// Under --verify-key, what the exact key's tag holds that is not an entry (anyone who may
// push can put it there) is skipped like an unsigned entry: the restore keys still match.
TEST(EntrySigning, AMalformedEntryAtTheExactKeyDoesNotStopAVerifiedLookup) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor older = put_sample_entry(*store, "build-1", "2024-01-01T00:00:00Z");
  ASSERT_TRUE(sign_entry(*store, older, key).ok());
  ASSERT_TRUE(
      store->put_manifest("build-2", R"({"schemaVersion":2,"junk":true})", kOciManifest).ok());
  EntryFilter filter;
  filter.verify_keys = {key};
  auto found = find_entry(*store, "build-2", {"build-"}, filter);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->info.key, "build-1");
  auto unverified = find_entry(*store, "build-2", {"build-"}, {});
  EXPECT_FALSE(unverified.ok()) << "without keys a malformed entry is an error, as before";
}

// Referrers that claim other keys cost no request and do not count toward the cap on the
// signatures checked: listed first by the dozen, they do not hide the valid one.
TEST(EntrySigning, ReferrersClaimingOtherKeysDoNotHideAValidOne) {
  auto store = make_memory_store();
  Ed25519Key key = new_key();
  Descriptor entry = put_sample_entry(*store, "k1", "2024-01-01T00:00:00Z");
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(add_referrer(*store, entry.digest,
                             {kOciManifest,
                              sha256_digest("junk " + std::to_string(i)),
                              100,
                              {{kAnnoSignatureKey, sha256_digest("another key")}}},
                             kSignatureArtifactType)
                    .ok());
  ASSERT_TRUE(sign_entry(*store, entry, key).ok());
  auto check = check_entry_signature(*store, entry.digest, {key});
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->valid) << check->reason;
}

}  // namespace
}  // namespace regcache
