"""Cache poisoning: entries record the git ref and commit that saved them, and
`restore --trust PATTERN` restores only entries saved from matching refs (a release build
refusing caches written by pull requests); `save --trust` replaces an entry of the same key
saved from an untrusted ref instead of reporting it as existing."""

import os
import shutil
import time
import unittest

from common import BACKENDS, RegcacheTestCase, make_tree, snapshot

PR = {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/pull/7/merge", "GITHUB_SHA": "a" * 40}
MAIN = {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "b" * 40}


class TrustTest(RegcacheTestCase):
    def _tree(self, seed):
        d = os.path.join(self.ws, "cache")
        if os.path.exists(d):
            shutil.rmtree(d)
        make_tree(d, big=False, seed=seed)
        return snapshot(d)

    def _each_backend(self, test):
        for backend in ("layout", "open"):
            with self.subTest(backend=backend):
                test(self.store(backend))

    def test_entries_record_ref_and_commit(self):
        def check(store):
            self._tree(1)
            self.save(store, "k-1", "cache", env=MAIN)
            entries = {e["key"]: e for e in self.list_keys(store)}
            self.assertEqual(entries["k-1"].get("ref"), "refs/heads/main")
            annotations = store.manifest("k-1")["annotations"]
            self.assertEqual(annotations.get("dev.regcache.ref"), "refs/heads/main")
            self.assertEqual(annotations.get("dev.regcache.commit"), "b" * 40)
        self._each_backend(check)

    def test_restore_refuses_untrusted_exact_key(self):
        def check(store):
            self._tree(2)
            self.save(store, "poison", "cache", env=PR)
            os.rename(os.path.join(self.ws, "cache"), os.path.join(self.ws, "cache.saved"))
            r = self.restore(store, "poison", extra=("--trust", "refs/heads/main", "--trust", "refs/tags/*"))
            self.assertEqual(r["result"], "miss")
            self.assertFalse(os.path.exists(os.path.join(self.ws, "cache")), "an untrusted entry was restored")
            r = self.restore(store, "poison", extra=("--trust", "refs/pull/*/merge"))
            self.assertEqual(r["result"], "hit")
            r = self.restore(store, "poison")  # no --trust: every entry counts
            self.assertEqual(r["result"], "hit")
            shutil.rmtree(os.path.join(self.ws, "cache"))
            shutil.rmtree(os.path.join(self.ws, "cache.saved"))
        self._each_backend(check)

    def test_restore_key_skips_newer_untrusted_entry(self):
        def check(store):
            trusted = self._tree(3)
            self.save(store, "deps-main", "cache", env=MAIN)
            time.sleep(1.1)  # created times have second resolution
            self._tree(4)
            self.save(store, "deps-pr", "cache", env=PR)
            shutil.rmtree(os.path.join(self.ws, "cache"))
            r = self.restore(store, "deps-new", extra=("--restore-key", "deps-", "--trust", "refs/heads/main"))
            self.assertEqual(r["result"], "partial")
            self.assertEqual(r["matched_key"], "deps-main")
            self.assertEqual(snapshot(os.path.join(self.ws, "cache")), trusted)
            shutil.rmtree(os.path.join(self.ws, "cache"))
            r = self.restore(store, "deps-new", extra=("--restore-key", "deps-"))
            self.assertEqual(r["matched_key"], "deps-pr", "without --trust the newest entry wins")
            shutil.rmtree(os.path.join(self.ws, "cache"))
        self._each_backend(check)

    def test_save_replaces_an_untrusted_entry_of_the_same_key(self):
        def check(store):
            self._tree(5)
            self.save(store, "shared", "cache", env=PR)
            r = self.save(store, "shared", "cache", env=MAIN)
            self.assertEqual(r["result"], "exists", "without --trust an existing entry stays")
            r = self.save(store, "shared", "cache", env=MAIN, extra=("--trust", "refs/heads/main"))
            self.assertEqual(r["result"], "saved")
            entries = {e["key"]: e for e in self.list_keys(store)}
            self.assertEqual(entries["shared"].get("ref"), "refs/heads/main")
            r = self.save(store, "shared", "cache", env=MAIN, extra=("--trust", "refs/heads/main"))
            self.assertEqual(r["result"], "exists", "a trusted entry is not replaced")
        self._each_backend(check)

    def test_save_with_trust_reuses_no_layer_of_an_untrusted_base(self):
        # reused layers are taken on the base's word (its fingerprints): a pull request's
        # entry must not lend its blobs to a release branch's entry
        def check(store):
            self._tree(7)
            self.save(store, "deps-pr", "cache", env=PR)
            self.save(store, "deps-main", "cache", env=MAIN)
            trust = ("--trust", "refs/heads/main")
            r = self.save(store, "next-1", "cache", env=MAIN, extra=("--base", "deps-pr") + trust)
            self.assertEqual(r["reused_layers"], 0, r)
            r = self.save(store, "next-2", "cache", env=MAIN, extra=("--base", "deps-main") + trust)
            self.assertEqual(r["reused_layers"], r["layers"], r)
            r = self.save(store, "next-3", "cache", env=MAIN, extra=("--restore-key", "deps-pr") + trust)
            self.assertEqual(r["reused_layers"], 0, r)  # the prefix search skips it too
            r = self.save(store, "next-4", "cache", env=MAIN, extra=("--base", "deps-pr"))
            self.assertEqual(r["reused_layers"], r["layers"], "without --trust any base counts")
        self._each_backend(check)

    def test_unknown_origin_is_not_trusted(self):
        def check(store):
            self._tree(6)
            self.save(store, "plain", "cache")  # no CI variables: no ref recorded
            shutil.rmtree(os.path.join(self.ws, "cache"))
            r = self.restore(store, "plain", extra=("--trust", "**"))
            self.assertEqual(r["result"], "miss")
        self._each_backend(check)


if __name__ == "__main__":
    unittest.main()
