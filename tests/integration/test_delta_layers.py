"""Delta layers end to end: a save on a base stacks a delta holding the changed files and
whiteouts for the removed ones, on a local layout and on the registry in its open and
token modes; every entry of a chain restores exactly the tree it saved; the ninth change
compacts; and umoci, unpacking the entry as the ordinary OCI image it is, gives exactly
the tree regcache restores."""

import os
import shutil
import subprocess
import unittest

from common import RegcacheTestCase, make_tree, set_dir_mtimes, snapshot, write_file as write

UMOCI = shutil.which("umoci") or "/usr/bin/umoci"
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
DELTA = "dev.regcache.pack.delta"


class DeltaCase(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        self.target = os.path.join(self.ws, "target")

    def change(self, n):
        """The n-th change of the tree: one file rewritten, one added, one removed."""
        t = self.target
        write(os.path.join(t, "nested/a/b/c/deep.txt"), b"rewritten %d\n" % n)
        write(os.path.join(t, f"added/{n}.txt"), b"added %d\n" % n)
        for rel in ("small.txt", "block-4095.bin", "empty.txt", "bin/tool.sh", "secret/key.pem",
                    "private/data/x.txt", "données/été.txt", f"added/{n - 1}.txt"):
            p = os.path.join(t, rel)
            if os.path.exists(p):
                os.remove(p)
                break
        set_dir_mtimes(t, 1_800_000_000_000_000_000 + n * 1_000_000_000)

    def save_on(self, st, key, base=None, extra=()):
        extra = (("--base", base) if base else ()) + tuple(extra)
        r = self.save(st, key, "target", extra=extra)
        self.assertEqual(r["result"], "saved")
        return r

    def deltas(self, st, key):
        return sum(1 for l in st.manifest(key)["layers"] if l.get("annotations", {}).get(DELTA) == "true")

    def restored(self, st, key):
        """Restores key into a fresh workspace; returns its snapshot."""
        shutil.move(self.target, self.target + ".kept")
        try:
            r = self.restore(st, key)
            self.assertEqual(r["result"], "hit")
            return snapshot(self.target)
        finally:
            shutil.rmtree(self.target, ignore_errors=True)
            shutil.move(self.target + ".kept", self.target)


class DeltaChainTest(DeltaCase):
    def test_a_delta_holds_the_change_and_restores_exactly(self):
        for backend in ("layout", "open", "token"):
            with self.subTest(backend=backend):
                shutil.rmtree(self.target, ignore_errors=True)
                st = self.store(backend)
                make_tree(self.target)
                first = self.save_on(st, "d1")
                self.change(1)
                # A removed directory, a file that becomes a directory, a hard link's content.
                shutil.rmtree(os.path.join(self.target, "nested/a"))
                os.remove(os.path.join(self.target, "one-byte"))
                write(os.path.join(self.target, "one-byte/now-a-dir.txt"), b"inside")
                with open(os.path.join(self.target, "links/hard-a"), "r+b") as f:
                    f.write(b"HARD")
                set_dir_mtimes(self.target, 1_850_000_000_000_000_000)
                second = self.save_on(st, "d2", base="d1")
                self.assertEqual(self.deltas(st, "d2"), 1)
                self.assertEqual(second["reused_layers"], first["layers"])
                self.assertLess(second["uploaded_bytes"], first["uploaded_bytes"] / 20, second)
                self.assertTreeEqual(snapshot(self.target), self.restored(st, "d2"))
                # Unchanged since: the same layers, nothing uploaded.
                third = self.save_on(st, "d3", base="d2")
                self.assertEqual(third["uploaded_bytes"], 0)
                self.assertEqual(st.manifest("d3")["layers"], st.manifest("d2")["layers"])
                self.assertNoLeftovers()

    def test_the_ninth_change_compacts(self):
        st = self.store("layout")
        make_tree(self.target)  # its 3 MiB file keeps what the deltas hide under a tenth
        self.save_on(st, "c0")
        for n in range(1, 10):
            self.change(n)
            self.save_on(st, f"c{n}", base=f"c{n - 1}")
            self.assertEqual(self.deltas(st, f"c{n}"), n if n <= 8 else 0, n)
        self.assertTreeEqual(snapshot(self.target), self.restored(st, "c9"))
        self.change(10)
        self.save_on(st, "c10", base="c9")
        self.assertEqual(self.deltas(st, "c10"), 1)
        self.assertTreeEqual(snapshot(self.target), self.restored(st, "c10"))


class UmociReadsDeltasTest(DeltaCase):
    def setUp(self):
        super().setUp()
        for tool in (UMOCI, SKOPEO):
            if not os.access(tool, os.X_OK):
                self.skipTest(f"{tool} is not installed")

    def test_umoci_unpacks_the_tree_regcache_restores(self):
        st = self.store("open")
        make_tree(self.target)
        # Debian's umoci (0.4.7) reads gzip layers only.
        self.save_on(st, "u1", extra=("--compression", "gzip"))
        self.change(1)
        self.change(2)
        shutil.rmtree(os.path.join(self.target, "nested/a"))
        set_dir_mtimes(self.target, 1_900_000_000_000_000_000)
        self.save_on(st, "u2", base="u1", extra=("--compression", "gzip"))
        self.assertEqual(self.deltas(st, "u2"), 1)
        expected = self.restored(st, "u2")
        self.assertTreeEqual(snapshot(self.target), expected)
        layout = os.path.join(self.tmp, "copied")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home, "TMPDIR": self.tmpdir}
        subprocess.run([SKOPEO, "copy", "--quiet", "--src-tls-verify=false",
                        f"docker://{st.host}/{st.repo}:u2", f"oci:{layout}:u2"],
                       env=env, check=True, timeout=120)
        bundle = os.path.join(self.tmp, "bundle")
        p = subprocess.run([UMOCI, "unpack", "--rootless", "--image", f"{layout}:u2", bundle], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        self.assertTreeEqual(expected, snapshot(os.path.join(bundle, "rootfs/ws/target")), "umoci:")


if __name__ == "__main__":
    unittest.main()
