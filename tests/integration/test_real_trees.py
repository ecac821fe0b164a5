"""Trees as users have them: roots that are symlinks, symlinks leading outside the cached
paths, sparse files, saves with nothing in them, and restores of part of an entry. Each
runs against a local layout and the open registry."""
import os
import shutil
import stat
import unittest

from common import RegcacheTestCase, make_small_tree, parse_json, snapshot

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


if __name__ == "__main__":
    unittest.main()
