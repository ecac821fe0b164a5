"""Local faults: the destination is in the way, the disk is full, the file system is
read-only, permission is denied. Each gives exit 1 and one clear `regcache: error` line
naming the path (and the cause), leaves no staging or temporary file behind, and leaves
the destination as it was; afterwards the same entry restores (or the same save works)
where there is room.

Mounting (tmpfs, read-only bind mounts) needs root; running as nobody needs
`setpriv` (util-linux). Without them those tests are skipped with the reason. Every
mount is undone in the test's cleanup, even when the test fails."""

import hashlib
import json
import os
import shutil
import subprocess
import unittest

from common import BIN, clean_env, find_leftovers, make_small_tree, make_tree, snapshot, tree_listing, wait_for_binary
from test_bad_input import ONE_LAYER, BadInputCase, error_lines, flip_byte

NOBODY = 65534


def temp_leftovers(*dirs):
    """find_leftovers() plus the layout's atomic-write temporaries."""
    found = find_leftovers(*dirs)
    for d in dirs:
        for dirpath, dirnames, filenames in os.walk(d):
            for n in dirnames + filenames:
                if n.startswith(".regcache-tmp-"):
                    found.append(os.path.join(dirpath, n))
    return found


def gone_pid():
    """A pid of this namespace that no longer runs (a killed run's)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def pid_namespace():
    """The inode number of this process's PID namespace, as regcache's temporary names hold it."""
    link = os.readlink("/proc/self/ns/pid")
    return link[link.index("[") + 1:link.index("]")]


def is_mount(path):
    """True when path is a mount point, a bind mount on the same file system included (which
    os.path.ismount, comparing devices, does not see)."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == path:
                return True
    return False


class LocalFaultCase(BadInputCase):
    def setUp(self):
        super().setUp()
        self.st = self.store("layout")

    def assertNoTemp(self, *dirs):
        self.assertEqual(temp_leftovers(*(dirs or (self.tmp,))), [], "staging or temporary files left behind")

    def need_root(self):
        if os.geteuid() != 0:
            self.skipTest("mounting needs root")

    def mount(self, *args, target):
        """Runs mount ARGS TARGET and unmounts TARGET at cleanup (lazily if busy).
        Skips the test when mount is refused here."""
        self.need_root()
        p = subprocess.run(["mount", *args, target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            self.skipTest(f"mount {' '.join(args)} refused here: {p.stdout.decode(errors='replace').strip()}")
        self.addCleanup(self.umount, target)

    @staticmethod
    def umount(target):
        if subprocess.run(["umount", target], stderr=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["umount", "-l", target], stderr=subprocess.DEVNULL)

    def tmpfs(self, path, size="2m"):
        os.makedirs(path, exist_ok=True)
        self.mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", target=path)
        return path

    def read_only(self, path):
        """Makes the directory path read-only in place (a read-only bind mount of itself)."""
        self.mount("--bind", path, target=path)
        p = subprocess.run(["mount", "-o", "remount,bind,ro", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            self.skipTest(f"read-only remount refused here: {p.stdout.decode(errors='replace').strip()}")

    def fails_cleanly(self, rc, out, err, mentions):
        self.assertCleanError(rc, out, err, mentions=mentions)
        self.assertTrue(error_lines(err)[0].startswith("regcache: error"), err)


class DestinationInTheWayTest(LocalFaultCase):
    def refused_as_it_was(self, mentions):
        """The restore of k fails naming mentions; the workspace and the test's directory
        are as they were (but for the workspace's own mtime: the staging came and went)."""
        before, listing = snapshot(self.ws), tree_listing(self.tmp)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k")
        self.fails_cleanly(rc, out, err, mentions=mentions)
        after = snapshot(self.ws)
        before.pop(".", None)
        after.pop(".", None)
        self.assertTreeEqual(before, after, "the workspace changed:")
        self.assertEqual(tree_listing(self.tmp), listing)
        self.assertNoTemp()

    def test_destination_is_a_file(self):
        target = os.path.join(self.ws, "target")
        make_small_tree(target)
        expected = snapshot(target)
        self.save(self.st, "k", "target")
        shutil.rmtree(target)
        with open(target, "w") as f:
            f.write("a regular file where the cache has a directory\n")
        self.refused_as_it_was([target, ("not a directory", "is a file", "exists")])
        os.unlink(target)
        self.assertEqual(self.restore(self.st, "k")["result"], "hit")
        self.assertTreeEqual(expected, snapshot(target))

    def test_a_conflict_in_one_root_places_no_root(self):
        """An entry of two roots, the second with a directory of the job's where the cache
        holds a file, deep down: refused before either root is placed."""
        for name in ("a", "b"):
            make_small_tree(os.path.join(self.ws, name), content=b"cached")
        self.save(self.st, "k", "a", "b")
        with open(os.path.join(self.ws, "a", "a.txt"), "w") as f:
            f.write("changed since the save\n")
        deep = os.path.join(self.ws, "b", "sub", "b.txt")
        os.unlink(deep)
        os.makedirs(deep)
        with open(os.path.join(deep, "precious"), "w") as f:
            f.write("the job's own file\n")
        self.refused_as_it_was([deep, "is a directory"])

    def test_destination_is_a_directory(self):
        """The cache holds a file where the job has a directory of its own: refused, the
        directory and what it holds stay (a replace would delete them)."""
        target = os.path.join(self.ws, "state.db")
        with open(target, "wb") as f:
            f.write(os.urandom(4096))
        with open(target, "rb") as f:
            cached = f.read()
        self.save(self.st, "k", "state.db")
        os.unlink(target)
        os.makedirs(os.path.join(target, "sub"))
        with open(os.path.join(target, "sub", "precious"), "w") as f:
            f.write("the job's own file\n")
        self.refused_as_it_was([target, "is a directory"])
        shutil.rmtree(target)
        self.assertEqual(self.restore(self.st, "k")["result"], "hit")
        with open(target, "rb") as f:
            self.assertEqual(f.read(), cached)

    def test_destination_parent_is_a_file(self):
        target = os.path.join(self.ws, "p", "target")
        make_small_tree(target)
        self.save(self.st, "k", "p/target")
        shutil.rmtree(os.path.join(self.ws, "p"))
        with open(os.path.join(self.ws, "p"), "w") as f:
            f.write("in the way\n")
        before, listing = snapshot(self.ws), tree_listing(self.tmp)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k")
        self.fails_cleanly(rc, out, err, mentions=[os.path.join(self.ws, "p"), "not a directory"])
        self.assertTreeEqual(before, snapshot(self.ws))
        self.assertEqual(tree_listing(self.tmp), listing)
        self.assertNoTemp()


class DiskFullTest(LocalFaultCase):
    NO_SPACE = ("No space left", "ENOSPC")

    def big_tree(self, root):
        make_tree(root)  # 3 MiB of random data among small files: more than the tmpfs holds
        return snapshot(root)

    def test_restore_into_full_file_system(self):
        expected = self.big_tree(os.path.join(self.ws, "target"))
        self.save(self.st, "k", "target")
        shutil.rmtree(os.path.join(self.ws, "target"))
        small = self.tmpfs(os.path.join(self.tmp, "small"))
        ws = os.path.join(small, "ws")
        target = os.path.join(ws, "target")
        make_small_tree(target, content=b"mine")
        before, listing = snapshot(target), tree_listing(small)
        rc, out, err = self.regcache("--store", self.st.ref, "--workspace", ws, "restore", "--key", "k", cwd=ws)
        self.fails_cleanly(rc, out, err, mentions=[self.NO_SPACE, "target"])
        self.assertTreeEqual(before, snapshot(target), "the destination changed:")
        self.assertEqual(tree_listing(small), listing)
        self.assertNoTemp(small)
        # The same entry restores where there is room.
        self.assertEqual(self.restore(self.st, "k")["result"], "hit")
        self.assertTreeEqual(expected, snapshot(os.path.join(self.ws, "target")))
        self.assertNoTemp()

    def test_save_into_full_layout(self):
        self.big_tree(os.path.join(self.ws, "target"))
        small = self.tmpfs(os.path.join(self.tmp, "small"))
        store = "oci:" + os.path.join(small, "store")
        tmp = os.path.join(small, "tmp")
        os.makedirs(tmp)
        rc, out, err = self.regcache("--store", store, "save", "--key", "k", "target", env={"TMPDIR": tmp})
        self.fails_cleanly(rc, out, err, mentions=[self.NO_SPACE, small])
        self.assertNoTemp(small)
        # No entry was recorded.
        index = os.path.join(small, "store", "index.json")
        if os.path.exists(index):
            with open(index) as f:
                self.assertEqual(json.load(f).get("manifests"), [])
        # A save where there is room works, and restores.
        self.assertEqual(self.save(self.st, "k", "target")["result"], "saved")

    def test_save_with_full_tmpdir(self):
        self.big_tree(os.path.join(self.ws, "target"))
        reg = self.store("open")
        small = self.tmpfs(os.path.join(self.tmp, "small"))
        # Full: a filler takes every block.
        with open(os.path.join(small, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        rc, out, err = self.regcache("--store", reg.ref, "save", "--key", "k", "target", env={"TMPDIR": small})
        self.fails_cleanly(rc, out, err, mentions=[self.NO_SPACE, small])
        self.assertNoTemp(small)
        self.assertEqual(self.list_keys(reg), [])
        self.assertEqual(self.save(reg, "k", "target")["result"], "saved")

    def test_local_cache_on_a_full_disk(self):
        """A local tier with no room: the save and the restore work from the registry and
        say once (a warning naming the tier and the cause) that the tier keeps nothing."""
        expected = self.big_tree(os.path.join(self.ws, "target"))
        reg = self.store("open")
        tier = self.tmpfs(os.path.join(self.tmp, "tier"), size="1m")
        for args in (["save", "--key", "k", "target"], ["restore", "--key", "k"]):
            if args[0] == "restore":
                shutil.rmtree(os.path.join(self.ws, "target"))
            rc, out, err = self.regcache("--store", reg.ref, "--local-cache", tier, "--json", *args, env=reg.env)
            self.assertEqual(rc, 0, err)
            self.assertIn(json.loads(out)["result"], ("saved", "hit"))
            warnings = [l for l in err.splitlines() if l.startswith("regcache: warning:")]
            self.assertEqual(len(warnings), 1, err)
            for word in (tier, "cannot keep", "No space left"):
                self.assertIn(word, warnings[0])
            self.assertNoTemp(tier)
        self.assertTreeEqual(expected, snapshot(os.path.join(self.ws, "target")))


class MountedDestinationTest(LocalFaultCase):
    """A destination that is a mount point (a volume a CI runner mounts at target/ or at a
    cache directory): nothing can be renamed onto it from beside it, so the restore stages
    inside it and moves the entries in; it stays mounted, and a failed restore leaves it as
    it was."""

    def setUp(self):
        super().setUp()
        self.target = os.path.join(self.ws, "target")
        make_tree(self.target, big=False)
        os.makedirs(os.path.join(self.target, "only-dir"), exist_ok=True)
        self.expected = snapshot(self.target)
        self.save(self.st, "k", "target", env=ONE_LAYER)
        shutil.rmtree(self.target)
        self.tmpfs(self.target, size="16m")

    def test_restore_into_a_mount_point(self):
        with open(os.path.join(self.target, "mine"), "w") as f:
            f.write("the job's own file\n")
        r = self.restore(self.st, "k")
        self.assertEqual(r["result"], "hit")
        self.assertTrue(is_mount(self.target))
        got = snapshot(self.target)
        self.assertEqual(got.pop("mine")[0], "file")
        self.assertTreeEqual(self.expected, got)
        self.assertNoTemp()

    def test_a_killed_restores_staging_is_not_saved(self):
        """What a restore killed by SIGKILL leaves inside a mount point (its staging, with
        partial files) is neither saved nor left by the next restore."""
        leftover = os.path.join(self.target, ".regcache-stage-1-2-0123456789ab")
        os.makedirs(leftover)
        with open(os.path.join(leftover, "partial"), "w") as f:
            f.write("half written\n")
        with open(os.path.join(self.target, "mine"), "w") as f:
            f.write("the job's own file\n")
        self.save(self.st, "after", "target")
        shutil.rmtree(leftover)
        os.unlink(os.path.join(self.target, "mine"))
        self.assertEqual(self.restore(self.st, "after")["result"], "hit")
        self.assertEqual(sorted(os.listdir(self.target)), ["mine"])

    def test_failed_restore_leaves_the_mount_point_as_it_was(self):
        with open(os.path.join(self.target, "mine"), "w") as f:
            f.write("the job's own file\n")
        blob = self.st.client.blob_path(self.st.manifest("k")["layers"][0]["digest"])
        flip_byte(blob, -5)
        before = snapshot(self.target)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k")
        self.fails_cleanly(rc, out, err, mentions=["digest"])
        self.assertTreeEqual(before, snapshot(self.target))
        self.assertNoTemp()

    def test_a_conflict_deep_inside_changes_nothing(self):
        """A cached file where the mount point holds a directory of the job's, deep down, is
        found before anything moves: the mount point stays exactly as it was."""
        with open(os.path.join(self.target, "mine"), "w") as f:
            f.write("the job's own file\n")
        deep = os.path.join(self.target, "nested/a/b/c/deep.txt")
        os.makedirs(deep)
        with open(os.path.join(deep, "precious"), "w") as f:
            f.write("the job's\n")
        before = snapshot(self.target)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k")
        self.fails_cleanly(rc, out, err, mentions=[deep, "is a directory holding files"])
        self.assertTreeEqual(before, snapshot(self.target))
        self.assertNoTemp()

    def test_a_bind_mounted_destination(self):
        """A bind mount on the same file system (a runner's host path) is a mount point too."""
        self.umount(self.target)
        self.mount("--bind", self.target, target=self.target)
        self.assertTrue(is_mount(self.target))
        self.assertEqual(self.restore(self.st, "k")["result"], "hit")
        self.assertTrue(is_mount(self.target))
        self.assertTreeEqual(self.expected, snapshot(self.target))
        self.assertNoTemp()

    def test_a_cached_file_onto_a_mount_point(self):
        with open(os.path.join(self.ws, "state.db"), "w") as f:
            f.write("a file\n")
        self.save(self.st, "f", "state.db")
        os.unlink(os.path.join(self.ws, "state.db"))
        mount = self.tmpfs(os.path.join(self.ws, "state.db"))
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "f")
        self.fails_cleanly(rc, out, err, mentions=[mount, "mount point"])
        self.assertEqual(os.listdir(mount), [])
        self.assertNoTemp()


class MountInsideTheDestinationTest(LocalFaultCase):
    def assertRestoredAround(self, expected, outer, *mounts):
        """outer holds what the cache held (expected), the mounts inside it aside."""
        got = snapshot(outer, exclude=mounts)
        for tree in (got, expected):
            tree.pop(".", None)
        self.assertTreeEqual(expected, got)

    def test_a_volume_mounted_inside_stays(self):
        """The merge does not swap a tree that has a volume mounted in it (the volume would
        stay with the old tree, and its removal would reach in): it merges entry by entry,
        and the volume stays mounted where it was, as it was."""
        outer = os.path.join(self.ws, "outer")
        make_small_tree(outer)
        expected = snapshot(outer)
        self.save(self.st, "k", "outer")
        shutil.rmtree(outer)
        vol = self.tmpfs(os.path.join(outer, "vol"))
        os.makedirs(os.path.join(vol, "sub"))  # no file: nothing would stop a swap's links
        before = snapshot(vol)
        self.assertEqual(self.restore(self.st, "k")["result"], "hit")
        self.assertTrue(is_mount(vol))
        self.assertTreeEqual(before, snapshot(vol))
        self.assertRestoredAround(expected, outer, "vol")
        self.assertNoTemp()


    def test_the_jobs_directories_around_a_volume_keep_their_modes(self):
        """A volume mounted in a directory the cache does not hold, and a read-only one: the
        merge leaves both, and the job's directories around them, as they were."""
        outer = os.path.join(self.ws, "outer")
        make_small_tree(outer)
        expected = snapshot(outer)
        self.save(self.st, "k", "outer")
        shutil.rmtree(outer)
        jobdir = os.path.join(outer, "jobdir")
        os.makedirs(jobdir)
        vol = self.tmpfs(os.path.join(jobdir, "vol"))
        ro = self.tmpfs(os.path.join(outer, "ro"))
        with open(os.path.join(ro, "kept"), "w") as f:
            f.write("on a read-only volume\n")
        p = subprocess.run(["mount", "-o", "remount,ro", ro], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            self.skipTest(f"read-only remount refused here: {p.stdout.decode(errors='replace').strip()}")
        os.chmod(jobdir, 0o750)
        os.utime(jobdir, ns=(1_400_000_000 * 10**9, 1_400_000_000 * 10**9))
        before = snapshot(jobdir)
        self.assertEqual(self.restore(self.st, "k")["result"], "hit")
        self.assertTrue(is_mount(vol) and is_mount(ro))
        self.assertTreeEqual(before, snapshot(jobdir))
        with open(os.path.join(ro, "kept")) as f:
            self.assertEqual(f.read(), "on a read-only volume\n")
        self.assertRestoredAround(expected, outer, "jobdir", "ro")
        self.assertNoTemp(self.ws)

    def test_cached_files_under_a_volume_go_into_it(self):
        """The cache holds files where a volume is mounted inside the destination: no rename
        crosses into it, so they are copied in; the volume stays mounted and keeps its own."""
        outer = os.path.join(self.ws, "outer")
        make_small_tree(outer)
        make_small_tree(os.path.join(outer, "vol"), content=b"cached")
        # Hard links within what is copied stay links (cargo links each binary into deps/).
        os.makedirs(os.path.join(outer, "vol/sub/deps"))
        os.link(os.path.join(outer, "vol/sub/b.txt"), os.path.join(outer, "vol/sub/deps/b-1a2b"))
        expected = snapshot(outer)
        self.save(self.st, "k", "outer")
        shutil.rmtree(outer)
        vol = self.tmpfs(os.path.join(outer, "vol"))
        with open(os.path.join(vol, "mine"), "w") as f:
            f.write("the volume's own\n")
        # What a copy into the volume cut short by SIGKILL left: the next copy removes it.
        leftover = os.path.join(vol, f".regcache-stage-{gone_pid()}-{pid_namespace()}-0123456789ab")
        make_small_tree(leftover, content=b"half")
        self.assertEqual(self.restore(self.st, "k")["result"], "hit")
        self.assertTrue(is_mount(vol))
        self.assertRestoredAround(expected, outer, "vol/mine")
        self.assertTrue(os.path.isfile(os.path.join(vol, "mine")))
        self.assertFalse(os.path.lexists(leftover), "the killed copy's leftover stayed")
        self.assertNoTemp()

    def test_a_bind_mount_inside_is_not_reached_through(self):
        """A bind mount of another directory inside the destination (same file system): the
        merge neither carries it off with the old tree nor deletes what it shows."""
        outer = os.path.join(self.ws, "outer")
        make_small_tree(outer)
        expected = snapshot(outer)
        self.save(self.st, "k", "outer")
        shutil.rmtree(outer)
        elsewhere = os.path.join(self.tmp, "elsewhere")
        make_small_tree(elsewhere, content=b"the job's")
        held = snapshot(elsewhere)
        os.makedirs(os.path.join(outer, "vol"))
        self.mount("--bind", elsewhere, target=os.path.join(outer, "vol"))
        self.assertEqual(self.restore(self.st, "k")["result"], "hit")
        self.assertTrue(is_mount(os.path.join(outer, "vol")))
        self.assertTreeEqual(held, snapshot(elsewhere))
        self.assertRestoredAround(expected, outer, "vol")
        self.assertNoTemp()


class UnusableLocalTierTest(LocalFaultCase):
    """A local tier that cannot be opened (a read-only disk, a file in the way) only costs
    its copies: the save and the restore work from the registry, with one warning naming
    the tier and the cause."""

    def round_trip(self, tier, cause):
        make_small_tree(os.path.join(self.ws, "target"))
        expected = snapshot(os.path.join(self.ws, "target"))
        reg = self.store("open")
        for args in (["save", "--key", "k", "target"], ["restore", "--key", "k"]):
            if args[0] == "restore":
                shutil.rmtree(os.path.join(self.ws, "target"))
            rc, out, err = self.regcache("--store", reg.ref, "--local-cache", tier, "--local-cache-max", "1M",
                                         "--json", *args, env=reg.env)
            self.assertEqual(rc, 0, err)
            self.assertIn(json.loads(out)["result"], ("saved", "hit"))
            warnings = [l for l in err.splitlines() if l.startswith("regcache: warning:")]
            self.assertEqual(len(warnings), 1, err)
            for word in (tier, "cannot be used", cause):
                self.assertIn(word, warnings[0])
        self.assertTreeEqual(expected, snapshot(os.path.join(self.ws, "target")))
        self.assertNoTemp()

    def test_read_only_tier(self):
        tier = os.path.join(self.tmp, "tier")
        os.makedirs(tier)
        self.read_only(tier)
        self.round_trip(tier, "Read-only")
        self.assertEqual(os.listdir(tier), [])

    def test_file_in_the_way(self):
        tier = os.path.join(self.tmp, "tier")
        with open(tier, "w") as f:
            f.write("not a layout\n")
        self.round_trip(tier, "not a directory")
        with open(tier) as f:
            self.assertEqual(f.read(), "not a layout\n")


class ReadOnlyTest(LocalFaultCase):
    def setUp(self):
        super().setUp()
        self.parent = os.path.join(self.ws, "rodir")
        self.target = os.path.join(self.parent, "target")
        make_tree(self.target, big=False)
        self.expected = snapshot(self.target)
        # Several layers, so some carry no entry for the root directory itself.
        self.save(self.st, "k", "rodir/target", env={"REGCACHE_PACK_SIZE": "4096"})
        self.assertGreater(len(self.st.manifest("k")["layers"]), 2)

    def check_read_only(self, jobs):
        before = snapshot(self.parent)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k", env={"REGCACHE_JOBS": jobs})
        self.fails_cleanly(rc, out, err, mentions=["Read-only file system", "rodir"])
        self.assertTreeEqual(before, snapshot(self.parent))
        self.assertNoTemp()

    def test_existing_destination_on_read_only_fs(self):
        with open(os.path.join(self.target, "small.txt"), "w") as f:
            f.write("changed since the save\n")
        self.read_only(self.parent)
        for jobs in ("1", "4", "4", "4"):
            with self.subTest(jobs=jobs):
                self.check_read_only(jobs)

    def test_absent_destination_on_read_only_fs(self):
        shutil.rmtree(self.target)
        self.read_only(self.parent)
        for jobs in ("1", "4", "4", "4"):
            with self.subTest(jobs=jobs):
                self.check_read_only(jobs)
        self.assertFalse(os.path.exists(self.target))

    def test_first_layer_without_root_entry(self):
        # The layers in reverse order, one at a time: the first one extracted does not
        # hold the root directory's own entry, so the staging directory is made on the
        # way to a file. The cause must still be the read-only file system.
        idx_path = os.path.join(self.st.ref[4:], "index.json")
        mf = self.st.manifest("k")
        mf["layers"].reverse()
        raw = json.dumps(mf).encode()
        d = "sha256:" + hashlib.sha256(raw).hexdigest()
        with open(self.st.client.blob_path(d), "wb") as f:
            f.write(raw)
        with open(idx_path) as f:
            idx = json.load(f)
        idx["manifests"][0].update(digest=d, size=len(raw))
        with open(idx_path, "w") as f:
            json.dump(idx, f)
        shutil.rmtree(self.target)
        self.read_only(self.parent)
        self.check_read_only("1")


class PermissionDeniedTest(LocalFaultCase):
    """regcache run as nobody (root ignores mode bits)."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to switch to nobody")
        if not shutil.which("setpriv"):
            self.skipTest("setpriv (util-linux) is not installed")
        os.chmod(self.tmp, 0o755)  # nobody may pass through, not write
        for d in (self.home, self.tmpdir):
            os.chown(d, NOBODY, NOBODY)

    def under_setpriv(self, setpriv_args, *args, cwd=None, env=None):
        wait_for_binary()
        p = subprocess.run(["setpriv", *setpriv_args, BIN, *args],
                           cwd=cwd or self.ws, env=clean_env(self.home, env, self.tmpdir),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def as_nobody(self, *args, cwd=None, env=None):
        return self.under_setpriv([f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"], *args, cwd=cwd,
                                  env=env)

    def as_root_without_dac_override(self, *args, cwd=None, env=None):
        """uid 0 without the capabilities that let root ignore modes (a hardened container)."""
        return self.under_setpriv(["--bounding-set=-dac_override,-dac_read_search"], *args, cwd=cwd, env=env)

    def test_layout_in_unwritable_directory(self):
        make_small_tree(os.path.join(self.ws, "target"))
        self.save(self.st, "k", "target")  # a valid layout with an entry, owned by root, 0755
        store_dir = self.st.ref[4:]
        shutil.rmtree(os.path.join(self.ws, "target"))
        os.chown(self.ws, NOBODY, NOBODY)  # the destination is not the problem here
        listing = tree_listing(self.tmp)
        rc, out, err = self.as_nobody("--store", "oci:" + store_dir, "save", "--key", "k2", ".")
        self.fails_cleanly(rc, out, err, mentions=["Permission denied", store_dir])
        self.assertEqual(tree_listing(self.tmp), listing)
        self.assertNoTemp()
        # Reading needs no write access (tests/integration/test_environments.py has more).
        rc, out, err = self.as_nobody("--store", "oci:" + store_dir, "restore", "--key", "k")
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(os.path.join(self.ws, "target", "a.txt")))

    def test_restore_into_unwritable_directory(self):
        target = os.path.join(self.ws, "target")
        make_tree(target, big=False)
        expected = snapshot(target)
        reg = self.store("open")
        self.save(reg, "k", "target", env={"REGCACHE_PACK_SIZE": "4096"})  # several layers
        self.assertGreater(len(reg.manifest("k")["layers"]), 2)
        with open(os.path.join(target, "small.txt"), "w") as f:
            f.write("changed since the save\n")
        # ws and target belong to root, 0755: nobody cannot write here.
        for mode in ("existing", "absent"):
            if mode == "absent":
                shutil.rmtree(target)
            before = snapshot(self.ws)
            for jobs in ("1", "4", "4", "4"):
                with self.subTest(destination=mode, jobs=jobs):
                    rc, out, err = self.as_nobody("--store", reg.ref, "restore", "--key", "k",
                                                  env={"REGCACHE_JOBS": jobs})
                    self.fails_cleanly(rc, out, err, mentions=["Permission denied", "target"])
                    self.assertTreeEqual(before, snapshot(self.ws))
                    self.assertNoTemp()
        # As root the same entry restores.
        self.assertEqual(self.restore(reg, "k")["result"], "hit")
        self.assertTreeEqual(expected, snapshot(target))

    def test_restore_into_own_directory_in_unwritable_parent(self):
        """The job owns the destination but not its parent (a tool directory under a
        root-owned /opt): the staging goes inside the destination."""
        target = os.path.join(self.ws, "target")
        make_tree(target, big=False)
        expected = snapshot(target)
        reg = self.store("open")
        self.save(reg, "k", "target")
        shutil.rmtree(target)
        os.makedirs(target)
        os.chown(target, NOBODY, NOBODY)  # ws stays root's, 0755
        rc, out, err = self.as_nobody("--store", reg.ref, "restore", "--key", "k")
        self.assertEqual(rc, 0, err)
        got = snapshot(target)
        for tree in (got, expected):
            tree.pop(".", None)
        self.assertTreeEqual(expected, got)
        self.assertNoTemp()

    def test_a_directory_of_the_jobs_it_may_read_but_not_search_keeps_its_files(self):
        """A directory of the job's with mode 0600 (read, no search): its names are listed
        but cannot be examined, so a swap could not link them into the new tree and would
        remove them with the old one. The restore merges file by file instead."""
        target = os.path.join(self.ws, "target")
        make_tree(target, big=False)
        expected = snapshot(target)
        reg = self.store("open")
        self.save(reg, "k", "target")
        locked = os.path.join(target, "locked")
        os.makedirs(locked)
        with open(os.path.join(locked, "f"), "w") as f:
            f.write("the job's\n")
        for dirpath, dirnames, filenames in os.walk(self.ws):
            for n in dirnames + filenames + ["."]:
                os.lchown(os.path.join(dirpath, n), NOBODY, NOBODY)
        os.chmod(locked, 0o600)
        self.addCleanup(os.chmod, locked, 0o700)
        rc, out, err = self.as_nobody("--store", reg.ref, "restore", "--key", "k", "target")
        self.assertEqual(rc, 0, err)
        os.chmod(locked, 0o700)
        with open(os.path.join(locked, "f")) as f:
            self.assertEqual(f.read(), "the job's\n", "the restore removed a file of the job's")
        got = snapshot(target)
        for tree in (got, expected):
            for k in [k for k in tree if k == "." or k.startswith("locked")]:
                tree.pop(k)
        self.assertTreeEqual(expected, got)
        self.assertNoTemp()

    def test_root_restoring_over_a_build_users_tree_keeps_its_owners(self):
        """regcache as root over a tree the build user owns: a swap would make every
        directory anew as root, so the merge goes file by file and the owners stay."""
        target = os.path.join(self.ws, "target")
        make_tree(target, big=False)
        reg = self.store("open")
        self.save(reg, "k", "target")
        os.makedirs(os.path.join(target, "extra", "deep"))
        for dirpath, dirnames, filenames in os.walk(target):
            for n in dirnames + filenames + ["."]:
                os.lchown(os.path.join(dirpath, n), NOBODY, NOBODY)
        self.assertEqual(self.restore(reg, "k", extra=("target",))["result"], "hit")
        for d in (target, os.path.join(target, "extra"), os.path.join(target, "extra", "deep")):
            self.assertEqual(os.stat(d).st_uid, NOBODY, f"{d} changed hands")
        self.assertNoTemp()

    def test_read_only_directories_of_a_module_cache(self):
        """A Go module cache, as the job's user: module directories 0555, files 0444. A
        restore over an existing cache (in one swap, and file by file from inside it) keeps
        the job's other files and the cached modes and leaves nothing behind; a refused one
        leaves the cache as it was and nothing behind either."""
        self.module_cache_rounds(self.as_nobody, NOBODY)

    def test_read_only_directories_as_root_without_dac_override(self):
        """The same as root in a hardened container, where root needs the mode bits too."""
        probe = os.path.join(self.tmp, "probe")
        os.makedirs(probe, mode=0o555)
        p = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "mkdir",
                            os.path.join(probe, "x")], stderr=subprocess.DEVNULL)
        if p.returncode == 0:
            self.skipTest("setpriv could not drop CAP_DAC_OVERRIDE here")
        self.module_cache_rounds(self.as_root_without_dac_override, 0)

    def module_cache_rounds(self, run, uid):
        cache = os.path.join(self.ws, "gomod")
        module = os.path.join(cache, "mod", "ex@v1")
        for rel, text in (("a.go", "package a\n"), ("sub/b.go", "package sub\n")):
            os.makedirs(os.path.dirname(os.path.join(module, rel)), exist_ok=True)
            with open(os.path.join(module, rel), "w") as f:
                f.write(text)
        for path, mode in ((module + "/a.go", 0o444), (module + "/sub/b.go", 0o444), (module + "/sub", 0o555),
                           (module, 0o555)):
            os.chmod(path, mode)
        for dirpath, dirnames, filenames in os.walk(self.ws):
            for n in dirnames + filenames + ["."]:
                os.lchown(os.path.join(dirpath, n), uid, uid)
        reg = self.store("open")
        self.save(reg, "k", "gomod")
        for extra in (os.path.join(module, "extra.go"), os.path.join(module, "sub", "extra.go")):
            with open(extra, "w") as f:  # the job's own files, where it cannot write now
                f.write("the job's own\n")
            os.lchown(extra, uid, uid)

        def files_and_modes():
            return {rel: (v[0], v[1], v[4]) for rel, v in snapshot(cache).items() if rel != "."}

        for where in (self.ws, os.path.join(cache, "mod")):  # the swap; the merge file by file
            with self.subTest(cwd=where):
                os.chmod(os.path.join(module, "a.go"), 0o644)  # to be restored as cached
                inode = os.stat(cache).st_ino
                rc, out, err = run("--workspace", self.ws, "--store", reg.ref, "restore", "--key", "k", cwd=where)
                self.assertEqual(rc, 0, err)
                swapped = os.stat(cache).st_ino != inode
                self.assertEqual(swapped, where == self.ws, "the swap, and only from outside the cache")
                got = files_and_modes()
                self.assertEqual(got["mod/ex@v1"][1], 0o555)
                self.assertEqual(got["mod/ex@v1/sub"][1], 0o555)
                self.assertEqual(got["mod/ex@v1/a.go"][1], 0o444)
                for rel in ("mod/ex@v1/extra.go", "mod/ex@v1/sub/extra.go"):
                    self.assertEqual(got[rel][0], "file", rel)
                self.assertNoTemp()
        deep = os.path.join(module, "sub", "b.go")
        os.unlink(deep)
        os.makedirs(os.path.join(deep, "d"))
        for d in (deep, os.path.join(deep, "d")):
            os.lchown(d, uid, uid)
        before = snapshot(cache)
        rc, out, err = run("--store", reg.ref, "restore", "--key", "k", "gomod")
        self.fails_cleanly(rc, out, err, mentions=[deep])
        self.assertTreeEqual(before, snapshot(cache))
        self.assertNoTemp()

    def test_paths_inside_a_root_in_a_directory_it_may_not_write_in(self):
        """Paths inside a root, under a directory of root's: one the entry holds fails naming
        it; one it does not hold is a miss, as anywhere else (nothing to write there)."""
        target = os.path.join(self.ws, "t")
        for rel in ("x/f", "y/f"):
            os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
            with open(os.path.join(target, rel), "w") as f:
                f.write(rel + "\n")
        reg = self.store("open")
        self.save(reg, "k", "t")
        shutil.rmtree(os.path.join(target, "x"))  # t stays root's, 0755
        before = snapshot(target)
        rc, out, err = self.as_nobody("--store", reg.ref, "restore", "--key", "k", "t/x")
        self.fails_cleanly(rc, out, err, mentions=["Permission denied", "t/x"])
        self.assertTreeEqual(before, snapshot(target))
        rc, out, err = self.as_nobody("--store", reg.ref, "--json", "restore", "--key", "k", "t/z")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["result"], "miss")
        self.assertIn("holds nothing under", err)
        # Its directories missing too, under root's t: the same, a miss or a failure naming it.
        rc, out, err = self.as_nobody("--store", reg.ref, "--json", "restore", "--key", "k", "t/q/r")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["result"], "miss")
        self.assertIn("holds nothing under", err)
        rc, out, err = self.as_nobody("--store", reg.ref, "restore", "--key", "k", "t/x/f")
        self.fails_cleanly(rc, out, err, mentions=["Permission denied", "t/x"])
        self.assertTreeEqual(before, snapshot(target))
        self.assertNoTemp()

    def test_a_refused_restore_of_closed_directories_leaves_nothing(self):
        """An entry whose directories are 0000 and 0300 (as a hostile or odd cache may say):
        the restore is refused (a directory of the job's where it holds a file), and its
        staging, those directories included, goes."""
        target = os.path.join(self.ws, "target")
        for rel in ("closed/f", "blind/f", "state.db"):
            os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
            with open(os.path.join(target, rel), "w") as f:
                f.write(rel + "\n")
        os.chmod(os.path.join(target, "closed"), 0o000)
        os.chmod(os.path.join(target, "blind"), 0o300)
        reg = self.store("open")
        self.save(reg, "k", "target")
        shutil.rmtree(target)
        os.makedirs(os.path.join(target, "state.db", "sub"))
        for dirpath, dirnames, filenames in os.walk(self.ws):
            for n in dirnames + filenames + ["."]:
                os.lchown(os.path.join(dirpath, n), NOBODY, NOBODY)
        with open(os.path.join(target, "state.db", "sub", "mine"), "w") as f:
            f.write("the job's\n")
        before = snapshot(target)
        rc, out, err = self.as_nobody("--store", reg.ref, "restore", "--key", "k")
        self.fails_cleanly(rc, out, err, mentions=[os.path.join(target, "state.db")])
        self.assertTreeEqual(before, snapshot(target))
        self.assertNoTemp()

    def test_another_users_directory_in_one_root(self):
        """An entry of two roots, as nobody; the second root holds a directory of root's. Where
        the cache writes nothing in it, both roots restore around it (merged file by file, as
        the old tree cannot be emptied); where the cache writes in it, the restore is refused
        before either root is placed."""
        for name in ("a", "b"):
            make_small_tree(os.path.join(self.ws, name), content=b"cached")
        reg = self.store("open")
        self.save(reg, "k", "a", "b")
        for dirpath, dirnames, filenames in os.walk(self.ws):
            for n in dirnames + filenames + ["."]:
                os.lchown(os.path.join(dirpath, n), NOBODY, NOBODY)
        expected = {name: snapshot(os.path.join(self.ws, name)) for name in ("a", "b")}
        roots = os.path.join(self.ws, "b", "roots")
        os.makedirs(os.path.join(roots, "sub"))
        with open(os.path.join(roots, "file"), "w") as f:
            f.write("root's\n")
        os.chmod(roots, 0o700)  # not even readable
        for changed in ("a/a.txt", "b/a.txt"):
            with open(os.path.join(self.ws, changed), "w") as f:
                f.write("changed since the save\n")
        rc, out, err = self.as_nobody("--store", reg.ref, "restore", "--key", "k")
        self.assertEqual(rc, 0, err)
        for name in ("a", "b"):
            got = snapshot(os.path.join(self.ws, name), exclude=("roots",))
            self.assertTreeEqual(expected[name], got)
        self.assertEqual(sorted(os.listdir(roots)), ["file", "sub"])
        self.assertNoTemp()
        # Now the cache writes in root's directory: refused, neither root changes.
        shutil.rmtree(os.path.join(self.ws, "b", "sub"))
        os.rename(roots, os.path.join(self.ws, "b", "sub"))
        with open(os.path.join(self.ws, "a", "a.txt"), "w") as f:
            f.write("changed since the save\n")
        before = [snapshot(os.path.join(self.ws, name)) for name in ("a", "b")]
        rc, out, err = self.as_nobody("--store", reg.ref, "restore", "--key", "k")
        self.fails_cleanly(rc, out, err, mentions=["Permission denied", os.path.join(self.ws, "b", "sub")])
        self.assertEqual(before, [snapshot(os.path.join(self.ws, name)) for name in ("a", "b")])
        self.assertNoTemp()

    def test_merge_into_directory_partly_unwritable(self):
        # nobody owns the workspace and the destination, but one subdirectory of the
        # destination belongs to root (as after a container step that ran as root). The
        # restore may succeed (every cached file in place, nothing left behind) or fail
        # (the destination exactly as it was, nothing left behind), not both halves.
        target = os.path.join(self.ws, "target")
        make_tree(target, big=False)
        expected = snapshot(target)
        reg = self.store("open")
        self.save(reg, "k", "target")
        for dirpath, dirnames, filenames in os.walk(self.ws):
            for n in dirnames + filenames + ["."]:
                os.lchown(os.path.join(dirpath, n), NOBODY, NOBODY)
        with open(os.path.join(target, "small.txt"), "w") as f:
            f.write("nobody's change\n")
        nested = os.path.join(target, "nested")
        for dirpath, dirnames, filenames in os.walk(nested):
            for n in dirnames + filenames + ["."]:
                os.lchown(os.path.join(dirpath, n), 0, 0)
        with open(os.path.join(nested, "text-64k.txt"), "w") as f:
            f.write("root's change\n")
        before = snapshot(target)
        rc, out, err = self.as_nobody("--store", reg.ref, "restore", "--key", "k")
        if rc == 0:
            self.assertTreeEqual(expected, snapshot(target), "restore said it succeeded:")
        else:
            self.fails_cleanly(rc, out, err, mentions=["Permission denied", "nested"])
            self.assertTreeEqual(before, snapshot(target), f"a failed restore ({err.strip()}) changed the destination:")
        self.assertNoTemp()


if __name__ == "__main__":
    unittest.main()
