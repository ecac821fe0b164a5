"""Trees as users have them: roots that are symlinks, symlinks leading outside the cached
paths, sparse files, saves with nothing in them, and restores of part of an entry. Each
runs against a local layout and the open registry."""
import os
import resource
import shutil
import stat
import subprocess
import unittest

from common import MIB, RegcacheTestCase, make_small_tree, parse_json, snapshot

BACKENDS = ("layout", "open")


class RootSymlinkTest(RegcacheTestCase):
    """A root that is a symlink to a directory (a target/ on another disk)."""

    def test_saved_as_the_directory_and_restored_into_the_link(self):
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                st = self.store(backend)
                disk = os.path.join(self.tmp, "disk-" + backend)
                make_small_tree(os.path.join(disk, "tgt"))
                link = os.path.join(self.ws, "tgt")
                os.symlink(os.path.join(disk, "tgt"), link)
                before = snapshot(os.path.join(disk, "tgt"))
                rc, out, err = self.regcache("--store", st.ref, "-v", "--json", "save", "--key", "k", "tgt",
                                             env=st.env, check=True)
                saved = parse_json(out)
                self.assertEqual(saved["files"], 2, err)
                self.assertIn("following the symlink", err)
                # Restore onto the same layout: the link stays, its directory is filled.
                shutil.rmtree(os.path.join(disk, "tgt"))
                os.makedirs(os.path.join(disk, "tgt"))
                got = self.restore(st, "k")
                self.assertEqual(got["result"], "hit")
                self.assertTrue(os.path.islink(link))
                self.assertEqual(os.readlink(link), os.path.join(disk, "tgt"))
                self.assertTreeEqual(before, snapshot(os.path.join(disk, "tgt")))
                # And onto a runner without the link: a plain directory.
                os.unlink(link)
                got = self.restore(st, "k")
                self.assertEqual(got["files"], 2)
                self.assertFalse(os.path.islink(link))
                self.assertTreeEqual(before, snapshot(link))
                shutil.rmtree(link)

    def test_a_path_behind_a_symlink_inside_another_root_is_said(self):
        """A named path under another root, reached through a symlink inside that root, is
        not saved on its own (the outer root's entry keeps the link): a warning says so, and
        a path nested plainly is quiet."""
        os.makedirs(os.path.join(self.ws, "cache", "plain"))
        os.makedirs(os.path.join(self.ws, "other", "inner"))
        for name, text in (("cache/a", "a"), ("cache/plain/p", "p"), ("other/inner/b", "b")):
            with open(os.path.join(self.ws, name), "w") as f:
                f.write(text)
        os.symlink("../other", os.path.join(self.ws, "cache", "lnk"))
        st = self.store("layout")
        rc, out, err = self.regcache("--store", st.ref, "--json", "save", "--key", "k", "cache",
                                     "cache/lnk/inner", "cache/plain", check=True)
        self.assertEqual(parse_json(out)["files"], 2, err)
        self.assertIn("not saving " + os.path.join(self.ws, "cache", "lnk", "inner") + " on its own", err)
        self.assertIn("symlink " + os.path.join(self.ws, "cache", "lnk"), err)
        self.assertNotIn("cache/plain on its own", err)

    def test_dangling_root_symlink_is_a_clear_error(self):
        os.symlink(os.path.join(self.tmp, "nowhere"), os.path.join(self.ws, "gone"))
        st = self.store("layout")
        rc, out, err = self.regcache("--store", st.ref, "save", "--key", "k", "gone")
        self.assertEqual(rc, 1, err)
        self.assertIn("gone", err)
        self.assertIn("cannot follow the symlink", err)


class ExternalSymlinkTest(RegcacheTestCase):
    """A virtualenv's bin/python -> /usr/bin/python3 restores exactly as saved."""

    def make_venv(self):
        venv = os.path.join(self.ws, "venv")
        os.makedirs(os.path.join(venv, "bin"))
        os.makedirs(os.path.join(venv, "lib"))
        with open(os.path.join(venv, "lib", "site.py"), "w") as f:
            f.write("# site\n")
        os.symlink("/usr/bin/python3", os.path.join(venv, "bin", "python"))
        os.symlink("../../outside-the-cache", os.path.join(venv, "bin", "up"))
        os.symlink("python", os.path.join(venv, "bin", "python3"))
        return venv

    def test_recreated_by_default_and_refused_on_request(self):
        venv = self.make_venv()
        before = snapshot(venv)
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                st = self.store(backend)
                self.save(st, "venv", "venv")
                shutil.rmtree(venv)
                got = self.restore(st, "venv")
                self.assertEqual(got["result"], "hit")
                self.assertTreeEqual(before, snapshot(venv))
                # The old opt-in flag is still accepted, and changes nothing.
                shutil.rmtree(venv)
                self.assertEqual(self.restore(st, "venv", extra=["--allow-external-symlinks"])["result"], "hit")
                self.assertTreeEqual(before, snapshot(venv))
                # --no-external-symlinks refuses the entry and writes nothing.
                shutil.rmtree(venv)
                rc, out, err = self.restore(st, "venv", extra=["--no-external-symlinks"], check=1)
                self.assertIn("ws/venv/bin/", err)
                self.assertIn("outside", err)
                self.assertFalse(os.path.exists(venv))
                self.assertNoLeftovers()
                venv = self.make_venv()
                before = snapshot(venv)

    def test_nothing_is_written_through_an_external_symlink(self):
        # The link is recreated; the file saved beside it stays where it was saved.
        outside = os.path.join(self.tmp, "outside")
        os.makedirs(outside)
        root = os.path.join(self.ws, "r")
        os.makedirs(root)
        os.symlink(outside, os.path.join(root, "out"))
        with open(os.path.join(root, "f"), "w") as f:
            f.write("f\n")
        st = self.store("layout")
        self.save(st, "k", "r")
        shutil.rmtree(root)
        self.assertEqual(self.restore(st, "k")["result"], "hit")
        self.assertEqual(os.readlink(os.path.join(root, "out")), outside)
        self.assertEqual(os.listdir(outside), [])



class SparseFileTest(RegcacheTestCase):
    """A 100 MiB file with holes comes back with its holes, and the layer is a tar that GNU
    tar extracts (GNU sparse format 1.0)."""

    def make_sparse(self, path):
        with open(path, "wb") as f:
            f.truncate(100 * MIB)
            f.seek(10 * MIB)
            f.write(b"x" * 5000)
            f.seek(60 * MIB + 123)
            f.write(os.urandom(70000))
        return os.stat(path).st_blocks * 512

    def test_holes_are_kept(self):
        os.makedirs(os.path.join(self.ws, "d"))
        path = os.path.join(self.ws, "d", "disk.img")
        allocated = self.make_sparse(path)
        if allocated > 10 * MIB:
            self.skipTest("this filesystem does not keep holes")
        want = snapshot(os.path.join(self.ws, "d"))
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                st = self.store(backend)
                saved = self.save(st, "sparse", "d")
                self.assertEqual(saved["bytes"], 100 * MIB)
                layers = st.manifest("sparse")["layers"]
                self.assertLess(sum(l["size"] for l in layers), 1 * MIB, "the holes were uploaded")
                shutil.rmtree(os.path.join(self.ws, "d"))
                got = self.restore(st, "sparse")
                self.assertEqual((got["result"], got["bytes"]), ("hit", 100 * MIB))
                self.assertTreeEqual(want, snapshot(os.path.join(self.ws, "d")))
                self.assertLessEqual(os.stat(path).st_blocks * 512, allocated + 64 * 1024,
                                     "the restored file is fully allocated")
        # GNU tar reads the layer and keeps the holes too.
        out = os.path.join(self.tmp, "gnu")
        os.makedirs(out)
        for layer in st.manifest("sparse")["layers"]:
            subprocess.run(["tar", "-x", "--zstd", "-C", out], input=st.client.get_blob(layer["digest"]), check=True)
        # (each layer extracted on its own: a later one changes the directory's mtime)
        self.assertEqual(want["disk.img"], snapshot(os.path.join(out, "ws", "d"))["disk.img"])
        self.assertLessEqual(os.stat(os.path.join(out, "ws", "d", "disk.img")).st_blocks * 512, allocated + 64 * 1024)


class EmptySaveTest(RegcacheTestCase):
    """A save whose paths hold no regular file writes nothing."""

    def test_empty_directory_and_everything_excluded(self):
        os.makedirs(os.path.join(self.ws, "empty", "sub"))
        make_small_tree(os.path.join(self.ws, "t"))
        for backend in BACKENDS:
            with self.subTest(backend=backend):
                st = self.store(backend)
                for key, args in (("e1", ["empty"]), ("e2", ["t", "--exclude", "*.txt"])):
                    rc, out, err = self.regcache("--store", st.ref, "--json", "save", "--key", key, *args,
                                                 env=st.env, check=True)
                    self.assertEqual(parse_json(out)["result"], "empty")
                    self.assertEqual(parse_json(out)["files"], 0)
                    self.assertIn("nothing to save under ws/", err)
                    self.assertEqual(self.list_keys(st), [])
                # --allow-empty keeps an empty entry, which then hits.
                self.assertEqual(self.save(st, "e3", "empty", extra=["--allow-empty"])["result"], "saved")
                self.assertEqual([e["key"] for e in self.list_keys(st)], ["e3"])
                self.assertEqual(self.restore(st, "e3")["result"], "hit")


class PartialRestoreTest(RegcacheTestCase):
    """Paths given to restore may be roots or paths inside roots; only those are written."""

    def setUp(self):
        super().setUp()
        self.st = self.store("layout")
        a = os.path.join(self.ws, "a")
        os.makedirs(os.path.join(a, "d"))
        for rel, data in (("f", b"f\n"), ("d/x", b"x\n"), ("d/y", b"y\n")):
            with open(os.path.join(a, rel), "wb") as f:
                f.write(data)
        os.link(os.path.join(a, "f"), os.path.join(a, "d", "hard"))
        cargo = os.path.join(self.home, ".cargo")
        for sub in ("registry/cache", "git/db"):
            os.makedirs(os.path.join(cargo, sub))
            with open(os.path.join(cargo, sub, "blob"), "w") as f:
                f.write(sub)
        self.save(self.st, "k", "a", "~/.cargo")
        shutil.rmtree(a)
        shutil.rmtree(cargo)

    def test_a_file_inside_a_root(self):
        # a/f and a/d/hard are one file; the archive holds its content at a/d/hard (first
        # in order), so a/f alone is taken from there.
        got = self.restore(self.st, "k", "a/f")
        self.assertEqual((got["result"], got["files"]), ("hit", 1))
        self.assertEqual(os.listdir(os.path.join(self.ws, "a")), ["f"])
        with open(os.path.join(self.ws, "a", "f"), "rb") as f:
            self.assertEqual(f.read(), b"f\n")
        self.assertNoLeftovers()

    def test_a_directory_inside_a_root(self):
        got = self.restore(self.st, "k", "a/d")
        self.assertEqual((got["result"], got["files"]), ("hit", 3))
        self.assertEqual(sorted(os.listdir(os.path.join(self.ws, "a", "d"))), ["hard", "x", "y"])
        self.assertEqual(os.listdir(os.path.join(self.ws, "a")), ["d"])

    def test_one_part_of_home(self):
        got = self.restore(self.st, "k", "~/.cargo/registry")
        self.assertEqual((got["result"], got["files"]), ("hit", 1))
        self.assertEqual(os.listdir(os.path.join(self.home, ".cargo")), ["registry"])
        self.assertFalse(os.path.exists(os.path.join(self.ws, "a")))

    def test_a_path_the_entry_does_not_hold_is_a_miss_for_it(self):
        # Inside a root, outside every root, and beside one whose name it starts with.
        for path, where in (("a/nothing", "ws/a/nothing"), ("b", "ws/b"), ("a2", "ws/a2")):
            with self.subTest(path=path):
                rc, out, err = self.regcache("--store", self.st.ref, "--json", "restore", "--key", "k", path,
                                             check=True)
                got = parse_json(out)
                self.assertEqual(got["result"], "miss", err)
                self.assertIsNone(got["matched_key"])
                self.assertEqual(got["missing_paths"], [where])
                self.assertIn("holds nothing under " + where, err)
                self.assertIn("holds none of the paths asked for", got["reason"])
                rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k", path,
                                             "--fail-on-miss")
                self.assertEqual(rc, 3, err)
                self.assertIn("holds none of the paths asked for", err.splitlines()[-1])
                self.assertEqual(os.listdir(self.ws), [])
        # One path held, one not: a hit with a warning for the other.
        rc, out, err = self.regcache("--store", self.st.ref, "--json", "restore", "--key", "k", "a/f", "b",
                                     check=True)
        self.assertEqual(parse_json(out)["result"], "hit")
        self.assertEqual(parse_json(out)["missing_paths"], ["ws/b"])
        self.assertIn("holds nothing under ws/b", err)


class ConfinedRestoreTest(RegcacheTestCase):
    """Whoever can write an entry chooses its roots: an entry saved with extra home/ and
    abs/ roots, matched by a restore key or by its exact key, writes only what the job
    asked for."""

    def setUp(self):
        super().setUp()
        self.st = self.store("open")
        self.planted = os.path.join(self.tmp, "elsewhere", "planted.sh")
        os.makedirs(os.path.dirname(self.planted))
        with open(self.planted, "w") as f:
            f.write("echo planted\n")
        with open(os.path.join(self.home, ".bashrc"), "w") as f:
            f.write("echo pwned\n")
        make_small_tree(os.path.join(self.ws, "out"))
        self.save(self.st, "widget-evil", "out", "~/.bashrc", self.planted)
        self.want = snapshot(os.path.join(self.ws, "out"))
        for p in (self.planted, os.path.join(self.home, ".bashrc")):
            os.unlink(p)
        shutil.rmtree(os.path.join(self.ws, "out"))

    def assertConfined(self):
        self.assertFalse(os.path.exists(os.path.join(self.home, ".bashrc")), "wrote ~/.bashrc")
        self.assertFalse(os.path.exists(self.planted), "wrote an absolute path")
        self.assertTreeEqual(self.want, snapshot(os.path.join(self.ws, "out")))
        shutil.rmtree(os.path.join(self.ws, "out"))

    def test_bare_cli_and_named_paths(self):
        for key, result in (("widget-1234", "partial"), ("widget-evil", "hit")):
            for paths in ([], ["out"], ["--path", "out"]):
                with self.subTest(key=key, paths=paths):
                    rc, out, err = self.regcache("--store", self.st.ref, "--json", "restore", "--key", key,
                                                 "--restore-key", "widget-", *paths, check=True)
                    got = parse_json(out)
                    self.assertEqual(got["result"], result)
                    self.assertEqual(sorted(got["skipped_roots"]), sorted(["home/.bashrc", "abs" + self.planted]))
                    said = [l for l in err.splitlines() if "home/.bashrc" in l]
                    self.assertEqual(len(said), 1, err)
                    self.assertIn("abs" + self.planted, said[0])
                    self.assertConfined()

    def test_a_preset_restores_only_its_own_paths(self):
        # An entry under the node preset's key that also holds ~/.bashrc and an absolute
        # path: a restore with --preset node (exact key, then a restore-key match after the
        # lockfile changed) writes ~/.npm and nothing else.
        npm = os.path.join(self.home, ".npm")
        make_small_tree(os.path.join(npm, "_cacache"))
        want_npm = snapshot(npm)
        with open(os.path.join(self.ws, "package-lock.json"), "w") as f:
            f.write('{"lockfileVersion": 3}\n')
        with open(self.planted, "w") as f:
            f.write("echo planted\n")
        with open(os.path.join(self.home, ".bashrc"), "w") as f:
            f.write("echo pwned\n")
        self.regcache("--store", self.st.ref, "save", "--preset", "node", "~/.bashrc", self.planted, check=True)
        for lock, result in (('{"lockfileVersion": 3}\n', "hit"), ('{"lockfileVersion": 3, "x": 1}\n', "partial")):
            with self.subTest(result=result):
                with open(os.path.join(self.ws, "package-lock.json"), "w") as f:
                    f.write(lock)
                for p in (self.planted, os.path.join(self.home, ".bashrc")):
                    if os.path.exists(p):
                        os.unlink(p)
                shutil.rmtree(npm, ignore_errors=True)
                rc, out, err = self.regcache("--store", self.st.ref, "--json", "restore", "--preset", "node",
                                             check=True)
                got = parse_json(out)
                self.assertEqual(got["result"], result)
                self.assertEqual(sorted(got["skipped_roots"]), sorted(["home/.bashrc", "abs" + self.planted]))
                self.assertFalse(os.path.exists(os.path.join(self.home, ".bashrc")), "wrote ~/.bashrc")
                self.assertFalse(os.path.exists(self.planted), "wrote an absolute path")
                self.assertTreeEqual(want_npm, snapshot(npm))

    def test_all_roots_writes_every_root_and_says_so(self):
        rc, out, err = self.regcache("--store", self.st.ref, "--json", "restore", "--key", "widget-evil",
                                     "--all-roots", check=True)
        self.assertEqual(parse_json(out)["result"], "hit")
        self.assertIn("--all-roots: restoring", err)
        self.assertIn("home/.bashrc", err)
        self.assertTrue(os.path.exists(self.planted))
        self.assertTrue(os.path.exists(os.path.join(self.home, ".bashrc")))


class DeepTreeTest(RegcacheTestCase):
    """A tree 600 levels deep, its paths longer than PATH_MAX (4,096 bytes), with the soft
    limit on open descriptors at 256: it is saved, restored exactly into a fresh workspace
    (the deepest directory's mode and time too), and restored again over itself (the old
    tree is swapped out and removed), leaving nothing else behind."""

    DEPTH = 600
    NAME = "level-00"  # 9 bytes a level: paths of about 5,400 bytes

    def build(self, root):
        os.mkdir(root)
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i in range(self.DEPTH):
                if i % 150 == 0:
                    f = os.open(f"file-{i}", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
                    os.write(f, f"content at level {i}\n".encode())
                    os.close(f)
                os.mkdir(self.NAME, 0o755, dir_fd=fd)
                deeper = os.open(self.NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = deeper
            f = os.open("last", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
            os.write(f, b"the deepest file\n")
            os.close(f)
            os.chmod(fd, 0o700)
            os.utime(fd, ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
        finally:
            os.close(fd)

    def listing(self, root):
        """Every path below root with its type, mode, contents (files) and mtime (the
        deepest directory), read through directory descriptors as paths are too long."""
        out = {}
        for dirpath, _, filenames, dfd in os.fwalk(root):
            rel = dirpath[len(root):]
            st = os.stat(dfd)
            out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns if rel.count("/") == self.DEPTH else 0)
            for name in filenames:
                f = os.open(name, os.O_RDONLY, dir_fd=dfd)
                try:
                    out[rel + "/" + name] = ("file", stat.S_IMODE(os.fstat(f).st_mode), os.read(f, 1 << 16))
                finally:
                    os.close(f)
        return out

    def test_saved_and_restored_past_path_max_and_the_descriptor_limit(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 4 * self.DEPTH:
            self.skipTest(f"the hard limit on open descriptors is {hard}")
        src = os.path.join(self.ws, "deep")
        self.build(src)
        expected = self.listing(src)
        self.assertEqual(len(expected), self.DEPTH + 1 + 5)
        st = self.store("layout")

        def limited(run, *args, **kwargs):  # regcache inherits the soft limit of 256
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
            try:
                return run(*args, **kwargs)
            finally:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        saved = limited(self.save, st, "deep", "deep")
        self.assertEqual(saved["files"], 5)
        ws2 = os.path.join(self.tmp, "ws2")
        os.mkdir(ws2)
        for attempt in ("into a fresh workspace", "over the restored tree"):
            with self.subTest(attempt):
                got = limited(self.restore, st, "deep", "deep", extra=("--workspace", ws2), cwd=ws2)
                self.assertEqual(got["result"], "hit")
                self.assertEqual(self.listing(os.path.join(ws2, "deep")), expected)
                self.assertEqual(os.listdir(ws2), ["deep"], "no staging or swapped-out tree left")


class OwnStoreTest(RegcacheTestCase):
    """A saved directory that holds the layout store (or the local tier) written to: the
    store is left out of the entry, so it does not copy itself in, growing with each save."""

    def test_the_store_inside_a_saved_directory_is_left_out(self):
        make_small_tree(os.path.join(self.ws, "cache", "data"))
        ref = "oci:" + os.path.join("cache", "store")  # relative, as a job would write it
        for key in ("k1", "k2"):
            rc, out, err = self.regcache("--store", ref, "--json", "save", "--key", key, "cache", check=True)
            self.assertEqual(parse_json(out)["files"], 2, err)
        rc, out, err = self.regcache("--store", ref, "--json", "restore", "--key", "k2", "cache",
                                     "--workspace", self.ws, cwd=self.ws, check=True)
        self.assertEqual(parse_json(out)["files"], 2, err)
        self.assertTrue(os.path.exists(os.path.join(self.ws, "cache", "store", "index.json")))


if __name__ == "__main__":
    unittest.main()
