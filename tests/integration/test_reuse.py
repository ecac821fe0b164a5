"""Layer reuse (issue 3): a save based on an earlier entry reuses every unchanged layer
without uploading it, and uploads little when few files changed. Bytes are counted from
regcache's own report and checked against what the registry received."""
import os
import unittest

from common import RegcacheTestCase, services

PACK = str(256 * 1024)  # small packs, so a small tree spans many layers


def make_files(root, count=400, size=20_000):
    os.makedirs(root, exist_ok=True)
    for i in range(count):
        with open(os.path.join(root, f"f{i:04d}.bin"), "wb") as f:
            f.write(os.urandom(size))


class ReuseTest(RegcacheTestCase):
    backends = ("layout", "open", "token")

    def env(self):
        return {"REGCACHE_PACK_SIZE": PACK}

    def test_resave_after_restore_reuses_unchanged_layers(self):
        for backend in self.backends:
            if backend != "layout" and services() is None:
                continue
            with self.subTest(backend=backend):
                store = self.store(backend)
                tree = os.path.join(self.ws, f"target-{backend}")
                make_files(tree)
                rel = os.path.basename(tree)
                cold = self.save(store, "k1", rel, env=self.env())
                self.assertGreaterEqual(cold["layers"], 10)
                self.assertEqual(cold["reused_layers"], 0)
                # a restore in this job records the entry; the next save bases itself on it
                self.restore(store, "k1", env=self.env())
                same = self.save(store, "k2", rel, env=self.env())
                self.assertEqual(same["uploaded_bytes"], 0, same)
                self.assertEqual(same["reused_layers"], same["layers"])
                # change 1% of the files, next to each other (as one rebuilt crate would be)
                for i in range(100, 104):
                    with open(os.path.join(tree, f"f{i:04d}.bin"), "ab") as f:
                        f.write(b"changed")
                changed = self.save(store, "k3", rel, extra=("--base", "k2"), env=self.env())
                self.assertGreater(changed["uploaded_bytes"], 0)
                self.assertLessEqual(changed["uploaded_bytes"], cold["uploaded_bytes"] * 0.15, changed)
                self.assertGreaterEqual(changed["reused_layers"], changed["layers"] - 2)
                # and the reused entry restores exactly
                import shutil
                from common import snapshot
                before = snapshot(tree)
                shutil.rmtree(tree)
                got = self.restore(store, "k3", env=self.env())
                self.assertEqual(got["result"], "hit")
                self.assertTreeEqual(before, snapshot(tree))

    def test_identical_content_under_new_key_uploads_no_blob(self):
        store = self.store("open" if services() else "layout")
        make_files(os.path.join(self.ws, "t"), count=50)
        self.save(store, "first", "t", env=self.env())
        again = self.save(store, "second", "t", env=self.env())  # no base: HEAD finds every blob
        self.assertEqual(again["uploaded_bytes"], 0, again)

    def test_base_blob_deleted_from_the_registry_is_packed_again(self):
        # layers of a base in the same repository are not HEADed one by one: the manifest
        # PUT finds a missing one, and the save checks them all, packs the gone one again
        if services() is None:
            self.skipTest("needs the test registries")
        store = self.store("open")
        make_files(os.path.join(self.ws, "t"), count=100)
        cold = self.save(store, "k1", "t", env=self.env())
        gone = store.manifest("k1")["layers"][3]["digest"]
        status, _, _ = store.client.request("DELETE", store.client.url(f"blobs/{gone}"))
        self.assertEqual(status, 202)
        self.assertFalse(store.client.has_blob(gone))
        again = self.save(store, "k2", "t", extra=("--base", "k1"), env=self.env())
        self.assertEqual(again["reused_layers"], again["layers"] - 1, again)
        self.assertGreater(again["uploaded_bytes"], 0)
        self.assertLess(again["uploaded_bytes"], cold["uploaded_bytes"] / 5)
        self.assertTrue(store.client.has_blob(gone))
        from common import snapshot
        before = snapshot(os.path.join(self.ws, "t"))
        import shutil
        shutil.rmtree(os.path.join(self.ws, "t"))
        self.assertEqual(self.restore(store, "k2", env=self.env())["result"], "hit")
        self.assertTreeEqual(before, snapshot(os.path.join(self.ws, "t")))

    def test_restore_key_finds_the_base_when_no_restore_recorded_one(self):
        for backend in ("layout", "open"):
            if backend != "layout" and services() is None:
                continue
            with self.subTest(backend=backend):
                store = self.store(backend)
                make_files(os.path.join(self.ws, backend), count=60)
                env = dict(self.env(), REGCACHE_STATE_FILE=os.path.join(self.tmp, "none.json"))
                self.save(store, "deps-linux-aaa", backend, env=env)
                self.save(store, "other-linux-zzz", backend, env=env)  # newer, other prefix
                cold = self.save(store, "deps-linux-bbb", backend, env=env)
                self.assertEqual(cold["reused_layers"], 0, "no --restore-key: no base")
                got = self.save(store, "deps-linux-ccc", backend, env=env,
                                extra=("--restore-key", "nomatch-", "--restore-key", "deps-linux-"))
                self.assertEqual(got["reused_layers"], got["layers"], got)
                self.assertEqual(got["uploaded_bytes"], 0, got)

    def test_base_that_does_not_exist_only_warns(self):
        store = self.store("layout")
        make_files(os.path.join(self.ws, "t"), count=20)
        rc, out, err = self.regcache("--store", store.ref, "--json", "save", "--key", "x", "--base", "nope", "t",
                                     env=self.env())
        self.assertEqual(rc, 0, err)
        self.assertIn("nope", err)


if __name__ == "__main__":
    unittest.main()
