"""Cross-repository reuse (issue 3): a save whose base entry lives in another repository
of the same registry mounts the base's unchanged layers instead of uploading them; the
entry it writes restores on its own; a base in another kind of store is packed again."""
import json
import os
import shutil
import unittest

from common import RegcacheTestCase, services, snapshot

PACK = str(256 * 1024)


def make_files(root, count=200, size=20_000):
    os.makedirs(root, exist_ok=True)
    for i in range(count):
        with open(os.path.join(root, f"f{i:04d}.bin"), "wb") as f:
            f.write(os.urandom(size))


@unittest.skipIf(services() is None, "needs the test registries (tests/harness/services.py)")
class MountTest(RegcacheTestCase):
    def env(self, store):
        e = dict(store.env)
        e["REGCACHE_PACK_SIZE"] = PACK
        e["REGCACHE_STATE_FILE"] = os.path.join(self.tmp, "state.json")
        return e

    def check_mounted(self, backend):
        upstream = self.store(backend)
        fork = self.store(backend)  # another repository on the same registry
        make_files(os.path.join(self.ws, "t"))
        cold = self.save(upstream, "k1", "t", env=self.env(upstream))
        self.assertGreaterEqual(cold["layers"], 10)
        before = snapshot(os.path.join(self.ws, "t"))

        got = self.save(fork, "k2", "t", extra=("--base", "k1", "--base-store", upstream.ref),
                        env=self.env(fork))
        self.assertEqual(got["reused_layers"], got["layers"], got)
        manifest = fork.manifest(got["digest"])
        self.assertLessEqual(got["uploaded_bytes"], manifest["config"]["size"], got)  # the config at most
        for layer in manifest["layers"]:
            self.assertTrue(fork.client.has_blob(layer["digest"]), layer)

        shutil.rmtree(os.path.join(self.ws, "t"))  # the fork's entry restores on its own
        self.assertEqual(self.restore(fork, "k2", env=self.env(fork))["result"], "hit")
        self.assertTreeEqual(before, snapshot(os.path.join(self.ws, "t")))
        return upstream, fork

    def test_base_in_another_repository_is_mounted(self):
        self.check_mounted("open")

    def test_mount_with_tokens_asks_pull_on_the_source(self):
        upstream, fork = self.check_mounted("token")
        with open(services()["TOKEN_LOG"]) as f:
            log = [json.loads(line) for line in f if line.strip()]
        wanted = f"repository:{upstream.repo}:pull"
        self.assertTrue(any(wanted in e.get("scopes", []) and any(fork.repo in s for s in e["scopes"])
                            for e in log), "no token asked for push here and pull on the source")

    def test_restore_from_upstream_then_save_to_fork_needs_no_base_flag(self):
        upstream, fork = self.store("open"), self.store("open")
        make_files(os.path.join(self.ws, "t"), count=60)
        self.save(upstream, "k1", "t", env=self.env(upstream))
        shutil.rmtree(os.path.join(self.ws, "t"))
        self.assertEqual(self.restore(upstream, "k1", env=self.env(upstream))["result"], "hit")
        got = self.save(fork, "k2", "t", extra=("--base-store", upstream.ref), env=self.env(fork))
        self.assertEqual(got["reused_layers"], got["layers"], got)
        self.assertLess(got["uploaded_bytes"], 4096, got)

    def test_base_in_a_layout_is_packed_again(self):
        layout, reg = self.store("layout"), self.store("open")
        make_files(os.path.join(self.ws, "t"), count=60)
        cold = self.save(layout, "k1", "t", env=self.env(layout))
        got = self.save(reg, "k2", "t", extra=("--base", "k1", "--base-store", layout.ref),
                        env=self.env(reg))
        self.assertEqual(got["reused_layers"], 0, got)  # another registry: nothing to mount
        self.assertGreaterEqual(got["uploaded_bytes"], cold["uploaded_bytes"] - 4096, got)
        before = snapshot(os.path.join(self.ws, "t"))
        shutil.rmtree(os.path.join(self.ws, "t"))
        self.assertEqual(self.restore(reg, "k2", env=self.env(reg))["result"], "hit")
        self.assertTreeEqual(before, snapshot(os.path.join(self.ws, "t")))

    def test_unreachable_base_store_is_a_clear_error(self):
        reg = self.store("open")
        make_files(os.path.join(self.ws, "t"), count=5)
        rc, out, err = self.regcache("--store", reg.ref, "save", "--key", "k", "--base-store", "not a ref", "t")
        self.assertEqual(rc, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    unittest.main()
