"""File records end to end: a save on a base reads only the files whose stat stamp changed
since the last save on this machine recorded them, keeps its records beside the restore
state file, and still saves what changed; files changed just before a save are read by
the next one."""

import os
import time
import unittest

from common import RegcacheTestCase, make_tree, snapshot, write_file as write

# The save records only files last changed more than this before its walk began.
RACY_MARGIN_SECONDS = 2


def regular_files(root):
    """The number of distinct regular files (a hard-link group counts once) under root."""
    seen = set()
    for dirpath, _, filenames in os.walk(root):
        for n in filenames:
            st = os.lstat(os.path.join(dirpath, n))
            if os.path.isfile(os.path.join(dirpath, n)) and not os.path.islink(os.path.join(dirpath, n)):
                seen.add((st.st_dev, st.st_ino))
    return len(seen)


class FileRecordsTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        self.target = os.path.join(self.ws, "target")
        make_tree(self.target)
        self.files = regular_files(self.target)
        self.st = self.store("layout")

    def wait_past_racy_margin(self):
        # Not a timing assumption: ctimes only move forward, so after this wait every file
        # written above is older than the margin whatever the machine's speed.
        time.sleep(RACY_MARGIN_SECONDS + 0.2)

    def records_in(self, d):
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def test_an_unchanged_save_reads_no_file_and_a_changed_one_is_saved(self):
        self.wait_past_racy_margin()
        first = self.save(self.st, "k1", "target")
        self.assertEqual(first["unread_files"], 0)  # no base: every file is compressed anyway
        # In the state home, not in $RUNNER_TEMP, which a runner empties for every job.
        self.assertEqual(len(self.records_in(os.path.join(self.home, ".local/state/regcache/files"))), 1)

        second = self.save(self.st, "k2", "target", extra=("--base", "k1"))
        self.assertEqual(second["unread_files"], self.files)
        self.assertEqual(second["reused_layers"], second["layers"])
        self.assertEqual(second["uploaded_bytes"], 0)

        with open(os.path.join(self.target, "small.txt"), "ab") as f:
            f.write(b"one more line\n")
        third = self.save(self.st, "k3", "target", extra=("--base", "k2"))
        self.assertEqual(third["unread_files"], self.files - 1)
        self.assertGreater(third["uploaded_bytes"], 0)

        other = os.path.join(self.tmp, "other-ws")
        os.makedirs(other)
        got = self.restore(self.st, "k3", "target", cwd=other)
        self.assertEqual(got["result"], "hit")
        self.assertEqual(snapshot(os.path.join(other, "target")), snapshot(self.target))

    def test_a_file_changed_just_before_a_save_is_read_by_the_next(self):
        self.wait_past_racy_margin()
        self.save(self.st, "k1", "target")
        write(os.path.join(self.target, "fresh.txt"), b"written just now\n")
        second = self.save(self.st, "k2", "target", extra=("--base", "k1"))
        # Everything but the new file was recorded by the first save; the new file is read
        # and, being younger than the margin, left out of the record.
        self.assertEqual(second["unread_files"], self.files)
        third = self.save(self.st, "k3", "target", extra=("--base", "k2"))
        self.assertEqual(third["unread_files"], self.files)

    def test_the_save_after_a_restore_reads_only_what_the_build_changed(self):
        # make_tree gives every file an mtime years back: the restore may record them at
        # once (a restore sets the saved mtime after writing; a later write moves it).
        self.save(self.st, "k1", "target")
        other = os.path.join(self.tmp, "runner-2")
        os.makedirs(other)
        home2 = os.path.join(self.tmp, "home-2")  # another machine's state
        os.makedirs(home2)
        got = self.restore(self.st, "k1", "target", cwd=other, home=home2)
        self.assertEqual(got["result"], "hit")
        restored = os.path.join(other, "target")
        # The hard-link pair is read: a restore never records a file a hard link names.
        linked = 1
        same = self.save(self.st, "k2", "target", extra=("--base", "k1"), cwd=other, home=home2)
        self.assertEqual(same["unread_files"], self.files - linked)
        self.assertEqual(same["uploaded_bytes"], 0)
        with open(os.path.join(restored, "nested/a/b/c/deep.txt"), "ab") as f:
            f.write(b"rebuilt\n")
        built = self.save(self.st, "k3", "target", extra=("--base", "k1"), cwd=other, home=home2)
        self.assertEqual(built["unread_files"], self.files - linked - 1)
        # That save rewrote the record and kept the rows it took from the restore (the unit
        # tests show they would be lost otherwise); the rebuilt file is read again unless
        # it was already older than the margin when that save walked.
        again = self.save(self.st, "k4", "target", extra=("--base", "k3"), cwd=other, home=home2)
        self.assertIn(again["unread_files"], (self.files - linked - 1, self.files - linked))
        check = os.path.join(self.tmp, "check")
        os.makedirs(check)
        self.restore(self.st, "k3", "target", cwd=check)
        self.assertEqual(snapshot(os.path.join(check, "target")), snapshot(restored))

    def test_records_live_beside_the_state_file(self):
        self.wait_past_racy_margin()
        state = os.path.join(self.tmp, "state", "s.json")
        env = {"REGCACHE_STATE_FILE": state}
        self.save(self.st, "k1", "target", env=env)
        self.assertEqual(len(self.records_in(os.path.join(self.tmp, "state", "regcache-files"))), 1)
        self.assertEqual(self.records_in(os.path.join(self.home, ".local/state/regcache/files")), [])
        second = self.save(self.st, "k2", "target", extra=("--base", "k1"), env=env)
        self.assertEqual(second["unread_files"], self.files)
        # Another state file has no records: every file is read.
        third = self.save(self.st, "k3", "target", extra=("--base", "k1"),
                          env={"REGCACHE_STATE_FILE": os.path.join(self.tmp, "elsewhere", "s.json")})
        self.assertEqual(third["unread_files"], 0)


if __name__ == "__main__":
    unittest.main()
