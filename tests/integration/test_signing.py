"""Signed entries (docs/format.md, "Signatures"; docs/security.md): `regcache keygen`
writes an Ed25519 pair; `save --sign-key` stores a signature of the entry manifest's digest
as an OCI 1.1 referrer (the referrers tag schema); `restore --verify-key` counts only
entries with a valid signature by one of the keys. On the layout and the three registry
modes: the round trip, the signature checked with the openssl command line alone, and
everything that must fail verification (another key, an entry re-annotated, re-tagged or
with a swapped layer, a signature copied from another entry, a forged git ref); keys from
the environment, never printed; the save side (an unsigned entry replaced, no unsigned
base); list, delete and prune."""

import json
import os
import shutil
import stat
import subprocess
import time
import unittest

from common import BACKENDS, OCI_MANIFEST, RegcacheTestCase, make_small_tree, snapshot

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SIG_TYPE = "application/vnd.dev.regcache.signature.v1"
MAIN = {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "b" * 40}


def raw_manifest(store, ref):
    """The bytes of the manifest or index a tag or digest names, or None."""
    if store.backend == "layout":
        if ref.startswith("sha256:"):
            return store.client.get_blob(ref) if store.client.has_blob(ref) else None
        return store.client.get_manifest(ref)
    st, _, body = store.client.request("GET", store.client.url(f"manifests/{ref}"),
                                       headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
    if st == 404:
        return None
    assert st == 200, f"GET manifest {ref}: HTTP {st}"
    return body


def digest_of(data):
    import hashlib
    return "sha256:" + hashlib.sha256(data).hexdigest()


def referrers_tag(digest):
    return digest.replace(":", "-", 1)


class SigningTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        self.keys = os.path.join(self.tmp, "keys")
        rc, out, err = self.regcache("--json", "keygen", "--out", self.keys, check=True)
        self.fingerprint = json.loads(out)["fingerprint"]
        self.key = os.path.join(self.keys, "regcache.key")
        self.pub = os.path.join(self.keys, "regcache.pub")
        other = os.path.join(self.tmp, "other")
        self.regcache("keygen", "--out", other, check=True)
        self.other_pub = os.path.join(other, "regcache.pub")
        self.other_key = os.path.join(other, "regcache.key")
        self.cache = os.path.join(self.ws, "cache")

    def tree(self, content):
        shutil.rmtree(self.cache, ignore_errors=True)
        make_small_tree(self.cache, content=content)
        return snapshot(self.cache)

    def each_backend(self, test, backends=BACKENDS):
        for backend in backends:
            with self.subTest(backend=backend):
                test(self.store(backend))

    def verified_restore(self, store, key, *extra, pub=None, check=True):
        shutil.rmtree(self.cache, ignore_errors=True)
        return self.restore(store, key, "cache", extra=("--verify-key", pub or self.pub, *extra), check=check)

    def assert_verified_miss(self, store, key, why, *extra):
        shutil.rmtree(self.cache, ignore_errors=True)
        rc, out, err = self.regcache("--store", store.ref, "--json", "-v", "restore", "--key", key, "cache",
                                     "--verify-key", self.pub, *extra, env=store.env, check=True)
        self.assertEqual(json.loads(out)["result"], "miss", err)
        self.assertIn(why, err)
        self.assertFalse(os.path.exists(self.cache), "an entry without a valid signature was restored")

    # --- the round trip -----------------------------------------------------------------

    def test_keygen_writes_a_private_key_only_its_owner_reads(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.key).st_mode), 0o600)
        with open(self.pub) as f:
            self.assertIn("BEGIN PUBLIC KEY", f.read())
        der = subprocess.run(["openssl", "pkey", "-pubin", "-in", self.pub, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        self.assertEqual(self.fingerprint, digest_of(der))
        before = open(self.key, "rb").read()
        rc, out, err = self.regcache("keygen", "--out", self.keys)
        self.assertEqual(rc, 1)
        self.assertEqual(err.strip().count("\n"), 0, err)
        self.assertIn("exists; not overwriting a key", err)
        self.assertEqual(open(self.key, "rb").read(), before)

    def test_keygen_refuses_a_directory_others_may_write(self):
        shared = os.path.join(self.tmp, "shared")
        os.makedirs(shared)
        os.chmod(shared, 0o777)
        rc, out, err = self.regcache("keygen", "--out", shared)
        self.assertEqual(rc, 1)
        self.assertEqual(err.strip().count("\n"), 0, err)
        self.assertIn("other users may replace files there", err)
        self.assertEqual(os.listdir(shared), [])
        os.chmod(shared, 0o1777)  # sticky, as /tmp: no one else may rename or remove the pair
        self.regcache("keygen", "--out", shared, check=True)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(shared, "regcache.key")).st_mode), 0o600)

    def test_a_signed_round_trip_checked_by_openssl_alone(self):
        def check(store):
            expected = self.tree(b"signed")
            saved = self.save(store, "k1", "cache", extra=("--sign-key", self.key))
            self.assertEqual(saved["signed_by"], self.fingerprint)
            restored = self.verified_restore(store, "k1")
            self.assertEqual(restored["result"], "hit")
            self.assertEqual(restored["signed_by"], self.fingerprint)
            self.assertEqual(snapshot(self.cache), expected)
            self.assertEqual(self.list_keys(store)[0]["signed_by"], [self.fingerprint])

            # docs/format.md's recipe: the referrers tag, the signature manifest, its blob.
            entry = raw_manifest(store, "k1")
            index = json.loads(raw_manifest(store, referrers_tag(digest_of(entry))))
            sigs = [m for m in index["manifests"] if m.get("artifactType") == SIG_TYPE]
            self.assertEqual(len(sigs), 1)
            self.assertEqual(sigs[0]["annotations"]["dev.regcache.signature.key"], self.fingerprint)
            sig_manifest = json.loads(raw_manifest(store, sigs[0]["digest"]))
            self.assertEqual(sig_manifest["subject"]["digest"], digest_of(entry))
            signature = store.client.get_blob(sig_manifest["layers"][0]["digest"])
            payload = os.path.join(self.tmp, "payload")
            sigfile = os.path.join(self.tmp, "sig")
            with open(payload, "w") as f:
                f.write(f"regcache entry signature v1\n{digest_of(entry)}\n")
            with open(sigfile, "wb") as f:
                f.write(signature)
            ok = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", self.pub, "-rawin",
                                 "-in", payload, "-sigfile", sigfile], capture_output=True, text=True)
            self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
            bad = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", self.other_pub, "-rawin",
                                  "-in", payload, "-sigfile", sigfile], capture_output=True, text=True)
            self.assertNotEqual(bad.returncode, 0)
        self.each_backend(check)

    def test_unsigned_and_foreign_entries_are_misses(self):
        def check(store):
            self.tree(b"x")
            self.save(store, "plain", "cache")
            self.assert_verified_miss(store, "plain", "no valid signature (it is not signed)")
            self.tree(b"y")
            self.save(store, "foreign", "cache", extra=("--sign-key", self.other_key))
            self.assert_verified_miss(store, "foreign", "not by a --verify-key")
            # Both keys: the foreign one verifies.
            r = self.verified_restore(store, "foreign", "--verify-key", self.other_pub)
            self.assertEqual(r["result"], "hit")
        self.each_backend(check)

    def test_a_restore_key_takes_the_newest_signed_entry(self):
        def check(store):
            signed = self.tree(b"old signed")
            self.save(store, "deps-1", "cache", extra=("--sign-key", self.key))
            time.sleep(1.1)  # created times order the candidates
            self.tree(b"new unsigned")
            self.save(store, "deps-2", "cache")
            r = self.verified_restore(store, "deps-3", "--restore-key", "deps-")
            self.assertEqual((r["result"], r["matched_key"]), ("partial", "deps-1"))
            self.assertEqual(snapshot(self.cache), signed)
        self.each_backend(check, ("layout", "open"))

    # --- what must not verify -------------------------------------------------------------

    def tampered_cases(self, store):
        self.tree(b"original")
        self.save(store, "k1", "cache", extra=("--sign-key", self.key))
        self.signed_bytes = raw_manifest(store, "k1")
        entry = json.loads(self.signed_bytes)
        self.tree(b"another tree")
        self.save(store, "donor", "cache")
        donor = json.loads(raw_manifest(store, "donor"))
        return entry, donor

    def put_entry(self, store, tag, manifest):
        data = json.dumps(manifest).encode()
        if store.backend == "layout":
            raise unittest.SkipTest("layout writes are done by regcache import in other tests")
        store.client.put_manifest(tag, data)
        return digest_of(data)

    def test_reannotated_retagged_or_swapped_entries_fail_verification(self):
        def check(store):
            entry, donor = self.tampered_cases(store)
            reannotated = json.loads(json.dumps(entry))
            reannotated["annotations"]["dev.regcache.files"] = "1"
            self.put_entry(store, "k1", reannotated)
            self.assert_verified_miss(store, "k1", "no valid signature (it is not signed)")

            swapped = json.loads(json.dumps(entry))
            swapped["layers"][0] = donor["layers"][0]
            self.put_entry(store, "k1", swapped)
            self.assert_verified_miss(store, "k1", "no valid signature (it is not signed)")

            # The signed manifest, byte for byte, under another key's tag: its key is k1's.
            store.client.put_manifest("k1", self.signed_bytes)
            self.assertEqual(self.verified_restore(store, "k1")["result"], "hit", "control: the original verifies")
            store.client.put_manifest("k2", self.signed_bytes)
            self.assert_verified_miss(store, "k2", "")
            self.assertEqual(self.restore(store, "k2", "cache")["result"], "miss")
        self.each_backend(check, ("open", "basic", "token"))

    def test_a_signature_copied_from_another_entry_fails(self):
        def check(store):
            entry, donor = self.tampered_cases(store)
            signed_digest = digest_of(raw_manifest(store, "k1"))
            donor_digest = digest_of(raw_manifest(store, "donor"))
            index = raw_manifest(store, referrers_tag(signed_digest))
            store.client.put_manifest(referrers_tag(donor_digest), index, OCI_INDEX)
            self.assert_verified_miss(store, "donor", "the signature is for another entry")
        self.each_backend(check, ("open", "token"))

    def test_a_forged_ref_does_not_help_an_unsigned_entry(self):
        def check(store):
            self.tree(b"poison")
            self.save(store, "release", "cache", env=MAIN)
            self.assert_verified_miss(store, "release", "it is not signed", "--trust", "refs/heads/main")
        self.each_backend(check, ("layout", "open"))

    # --- keys from the environment; the save side ----------------------------------------

    def test_keys_from_the_environment_are_used_and_never_printed(self):
        def check(store):
            pem = open(self.key).read()
            pub = open(self.pub).read() + open(self.other_pub).read()
            self.tree(b"env")
            rc, out, err = self.regcache("--store", store.ref, "--json", "-v", "save", "--key", "e1", "cache",
                                         env={**store.env, "REGCACHE_SIGNING_KEY": pem}, check=True)
            self.assertEqual(json.loads(out)["signed_by"], self.fingerprint)
            body = "".join(pem.splitlines()[1:-1])
            self.assertNotIn(body, out + err)
            shutil.rmtree(self.cache)
            rc, out, err = self.regcache("--store", store.ref, "--json", "restore", "--key", "e1", "cache",
                                         env={**store.env, "REGCACHE_VERIFY_KEYS": pub}, check=True)
            self.assertEqual(json.loads(out)["result"], "hit")
        self.each_backend(check, ("layout", "basic"))

    def test_bad_keys_are_one_line_and_nothing_is_saved(self):
        store = self.store("layout")
        self.tree(b"bad")
        cases = [(("--sign-key", self.pub), "not a private key in PEM form"),
                 (("--sign-key", os.path.join(self.tmp, "missing.key")), "--sign-key"),
                 (("--verify-key", os.path.join(self.tmp, "missing.pub")), "--verify-key")]
        for extra, message in cases:
            with self.subTest(extra=extra):
                rc, out, err = self.regcache("--store", store.ref, "save", "--key", "b", "cache", *extra,
                                             env=store.env)
                self.assertEqual(rc, 2, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertIn(message, err)
                self.assertFalse(os.path.exists(store.ref[4:]), "a store was written")
        rc, out, err = self.regcache("--store", store.ref, "save", "--key", "b", "cache",
                                     env={"REGCACHE_SIGNING_KEY": "not a key"})
        self.assertEqual(rc, 2)
        self.assertIn("REGCACHE_SIGNING_KEY holds neither a PEM key nor the path of a readable file", err)
        rc, out, err = self.regcache("--store", store.ref, "save", "--key", "b", "cache",
                                     env={"REGCACHE_SIGNING_KEY": "-----BEGIN PRIVATE KEY-----\nnope\n"})
        self.assertEqual(rc, 2)
        self.assertIn("REGCACHE_SIGNING_KEY: not a private key in PEM form", err)
        self.assertNotIn("nope", err)
        self.assertFalse(os.path.exists(store.ref[4:]), "a store was written")

    def test_key_variables_may_name_files_as_gitlab_file_variables_do(self):
        store = self.store("open")
        self.tree(b"file variables")
        saved = self.save(store, "f1", "cache", env={"REGCACHE_SIGNING_KEY": self.key})
        self.assertEqual(saved["signed_by"], self.fingerprint)
        shutil.rmtree(self.cache)
        r = self.restore(store, "f1", "cache", env={"REGCACHE_VERIFY_KEYS": self.pub})
        self.assertEqual((r["result"], r["signed_by"]), ("hit", self.fingerprint))

    def test_a_verifying_save_replaces_an_unsigned_entry_and_takes_no_unsigned_base(self):
        def check(store):
            self.tree(b"unsigned")
            self.save(store, "base-1", "cache")
            based = self.save(store, "base-2", "cache", extra=("--restore-key", "base-", "--verify-key", self.pub))
            self.assertEqual(based["reused_layers"], 0, "layers were reused from an unsigned base")
            unverified = self.save(store, "base-3", "cache", extra=("--restore-key", "base-"))
            self.assertGreater(unverified["reused_layers"], 0, "control: without --verify-key the base is used")

            signing = self.save(store, "base-4", "cache", extra=("--restore-key", "base-", "--sign-key", self.key))
            self.assertEqual(signing["reused_layers"], 0, "a signed entry took layers from an unsigned base")

            self.save(store, "same", "cache")
            r = self.save(store, "same", "cache", extra=("--sign-key", self.key))
            self.assertEqual(r["result"], "saved", "an unsigned entry must not stop a signed save")
            self.assertEqual(self.verified_restore(store, "same")["result"], "hit")
            self.tree(b"unsigned")
            again = self.save(store, "same", "cache", extra=("--sign-key", self.key))
            self.assertEqual(again["result"], "exists")
        self.each_backend(check, ("layout", "open"))

    def test_what_a_pusher_plants_under_the_key_does_not_stop_a_signed_save(self):
        """Junk, or another entry, under the tag of a key a pusher can predict (a lockfile's
        hash): a plain save refuses it (--force replaces it), a signing save replaces it, and a
        verifying restore of that key falls through to its restore keys meanwhile."""
        def check(store):
            self.tree(b"older")
            self.save(store, "lock-0", "cache", extra=("--sign-key", self.key))
            older = snapshot(self.cache)
            self.tree(b"elsewhere")
            self.save(store, "other", "cache")
            other = raw_manifest(store, "other")
            foreign = json.loads(other)
            del foreign["annotations"]  # an image, but not one regcache saved
            for planted in (json.dumps(foreign).encode(), other):
                store.client.put_manifest("lock-1", planted)
                r = self.verified_restore(store, "lock-1", "--restore-key", "lock-")
                self.assertEqual((r["result"], r["matched_key"]), ("partial", "lock-0"))
                self.assertTreeEqual(older, snapshot(self.cache))
                self.tree(b"newest")
                for extra in ((), ("--verify-key", self.pub)):  # an unsigned entry would gain nothing
                    rc, out, err = self.regcache("--store", store.ref, "save", "--key", "lock-1", "cache",
                                                 *extra, env=store.env)
                    self.assertNotEqual(rc, 0, f"a save {extra} replaced what it did not write")
                    self.assertIn("use --force to replace it", err)
                expected = snapshot(self.cache)
                saved = self.save(store, "lock-1", "cache", extra=("--sign-key", self.key))
                self.assertEqual(saved["result"], "saved")
                self.assertEqual(self.verified_restore(store, "lock-1")["result"], "hit")
                self.assertTreeEqual(expected, snapshot(self.cache))
        self.each_backend(check, ("open",))

    def test_a_job_holding_the_signing_key_restores_only_what_it_signed(self):
        store = self.store("open")
        self.tree(b"planted")
        self.save(store, "job-1", "cache")
        pem = open(self.key).read()
        shutil.rmtree(self.cache)
        rc, out, err = self.regcache("--store", store.ref, "--json", "-v", "restore", "--key", "job-1", "cache",
                                     env={**store.env, "REGCACHE_SIGNING_KEY": pem}, check=True)
        self.assertEqual(json.loads(out)["result"], "miss", err)
        self.assertIn("no valid signature (it is not signed)", err)
        self.assertFalse(os.path.exists(self.cache))

    def test_misuse_is_refused_in_one_line(self):
        store = self.store("layout")
        cases = [(("restore", "--from-image", "localhost:1/x:y", "--verify-key", self.pub), "--from-image"),
                 (("restore", "--key", "k", "--verify-key", self.key), "give the public key (regcache.pub)"),
                 (("save", "--key", "sha256-" + "a" * 64, "cache"), "reserved for signatures")]
        with open(self.key) as f:
            signing = {"REGCACHE_SIGNING_KEY": f.read()}
        cases.append((("restore", "--from-image", "localhost:1/x:y", "cache"), "REGCACHE_SIGNING_KEY is set",
                      signing))
        self.tree(b"m")
        for args, message, *env in cases:
            with self.subTest(args=args[:2]):
                rc, out, err = self.regcache("--store", store.ref, *args, env=dict(store.env, **(env[0] if env else {})))
                self.assertEqual(rc, 2, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertIn(message, err)

    # --- list, delete, prune --------------------------------------------------------------

    def test_delete_and_prune_remove_the_signatures(self):
        def check(store):
            self.tree(b"gone")
            self.save(store, "d1", "cache", extra=("--sign-key", self.key), env={"REGCACHE_NOW": "2024-01-01T00:00:00Z"})
            self.tree(b"gone too")
            self.save(store, "p1", "cache", extra=("--sign-key", self.key), env={"REGCACHE_NOW": "2024-01-01T00:00:00Z"})
            listed = {e["key"]: e for e in self.list_keys(store)}
            self.assertEqual(set(listed), {"d1", "p1"}, "the referrers tags are not entries")
            for key in ("d1", "p1"):
                digest = listed[key]["digest"]
                index = json.loads(raw_manifest(store, referrers_tag(digest)))
                sig = index["manifests"][0]["digest"]
                if key == "d1":
                    self.regcache("--store", store.ref, "delete", "d1", env=store.env, check=True)
                else:
                    self.regcache("--store", store.ref, "prune", "--older-than", "1d", env=store.env, check=True)
                self.assertIsNone(raw_manifest(store, referrers_tag(digest)), f"{key}: its referrers tag remains")
                if store.backend != "layout":  # a layout keeps unreferenced blobs until its GC grace
                    self.assertIsNone(raw_manifest(store, sig), f"{key}: its signature manifest remains")
            self.assertEqual(self.list_keys(store), [])
        self.each_backend(check, ("layout", "open", "basic"))

    def test_prune_deletes_no_signed_entry_on_a_pushers_word(self):
        """Whoever may push can list the newest signed entry in an old entry's referrers tag,
        point another old entry's tag at it, and tag it again and again: prune and delete then
        still remove only the old entries and what refers to them."""
        def check(store):
            old = "2020-01-01T00:00:00Z"
            self.tree(b"old")
            self.save(store, "old-1", "cache", extra=("--sign-key", self.key), env={"REGCACHE_NOW": old})
            self.tree(b"old too")
            self.save(store, "old-2", "cache", env={"REGCACHE_NOW": old})
            self.tree(b"newest")
            self.save(store, "new", "cache", extra=("--sign-key", self.key))
            expected = snapshot(self.cache)
            listed = {e["key"]: e["digest"] for e in self.list_keys(store)}
            new_bytes = raw_manifest(store, "new")
            new_index = json.loads(raw_manifest(store, referrers_tag(listed["new"])))
            old_index = json.loads(raw_manifest(store, referrers_tag(listed["old-1"])))
            old_index["manifests"] += [
                {"mediaType": OCI_MANIFEST, "digest": listed["new"], "size": len(new_bytes)},
                new_index["manifests"][0]]
            store.client.put_manifest(referrers_tag(listed["old-1"]), json.dumps(old_index).encode(), OCI_INDEX)
            store.client.put_manifest(referrers_tag(listed["old-2"]), new_bytes)
            for n in range(4):
                store.client.put_manifest(f"copy-{n}", new_bytes)
            self.regcache("--store", store.ref, "prune", "--keep", "2", env=store.env, check=True)
            self.regcache("--store", store.ref, "prune", "--older-than", "30d", env=store.env, check=True)
            self.assertIsNone(raw_manifest(store, listed["old-1"]))
            self.assertIsNone(raw_manifest(store, listed["old-2"]))
            self.assertEqual(raw_manifest(store, "new"), new_bytes, "the signed entry was deleted")
            self.assertEqual(self.verified_restore(store, "new")["result"], "hit")
            self.assertTreeEqual(expected, snapshot(self.cache))
        self.each_backend(check, ("open",))


if __name__ == "__main__":
    unittest.main()
