"""Environments as users have them: no HOME, a layout shared between users or mounted
read-only, read-only commands on a store that does not exist, and jobs cancelled with
SIGINT or SIGTERM in the middle of a transfer."""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import unittest
import uuid

from common import (BIN, MIB, RegcacheTestCase, clean_env, find_leftovers, make_small_tree, parse_json, services,
                    snapshot, wait_for_binary)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from fault_proxy import FaultProxy  # noqa: E402

NOBODY = 65534


def can_switch_user():
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


class NoHomeTest(RegcacheTestCase):
    """HOME unset: the passwd entry's home, else a clear error asking for --store."""

    def run_without_home(self, *args, uid=None, env=None):
        e = clean_env(self.home, env, self.tmpdir)
        del e["HOME"]
        cmd = [BIN, *args]
        if uid is not None:
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
        wait_for_binary()
        p = subprocess.run(cmd, cwd=self.ws, env=e, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def test_the_passwd_home_is_used(self):
        import pwd
        home = pwd.getpwuid(os.geteuid()).pw_dir
        # `~` expands to the passwd home: the rust preset's paths live under it.
        rc, out, err = self.run_without_home("--json", "presets")
        self.assertEqual(rc, 0, err)
        rust = [p for p in json.loads(out) if p["name"] == "rust"][0]
        self.assertTrue(any(p.startswith(home + "/.cargo") for p in rust["paths"]), rust["paths"])

    def test_no_home_at_all_asks_for_a_store(self):
        if not can_switch_user():
            self.skipTest("needs root and setpriv to run as a user without a passwd entry")
        uid = 4242424  # no passwd entry
        os.chmod(self.tmp, 0o755)
        os.chmod(self.ws, 0o777)
        make_small_tree(os.path.join(self.ws, "t"))
        rc, out, err = self.run_without_home("save", "--key", "k", "t", uid=uid)
        self.assertEqual(rc, 1, err)
        self.assertIn("no home directory", err)
        self.assertIn("--store", err)
        self.assertFalse(os.path.exists("/.cache/regcache"))
        # With a store the save works; '~' in a path is a clear usage error.
        store = "oci:" + os.path.join(self.ws, "store")
        rc, out, err = self.run_without_home("--store", store, "save", "--key", "k", "t", uid=uid)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.run_without_home("--store", store, "save", "--key", "k2", "~/x", uid=uid)
        self.assertEqual(rc, 2, err)
        self.assertIn("no home directory", err.replace("there is none", "no home directory"))

    def test_relative_xdg_cache_home_is_ignored(self):
        rc, out, err = self.regcache("-v", "--json", "list", env={"XDG_CACHE_HOME": "relative/dir"})
        self.assertEqual(rc, 0, err)
        self.assertIn(os.path.join(self.home, ".cache", "regcache"), err)
        self.assertFalse(os.path.exists(os.path.join(self.ws, "relative")))


class AbsentStoreTest(RegcacheTestCase):
    """Read-only commands never create a store: a typo is not an empty store."""

    def test_read_only_commands_create_nothing(self):
        path = os.path.join(self.tmp, "typo")
        ref = "oci:" + path
        for args, check in ((["list"], lambda out: self.assertEqual(parse_json(out), [])),
                            (["restore", "--key", "k"], lambda out: self.assertEqual(parse_json(out)["result"], "miss")),
                            (["restore", "--key", "k", "--lookup-only"],
                             lambda out: self.assertEqual(parse_json(out)["result"], "miss")),
                            (["prune", "--older-than", "1d", "--dry-run"],
                             lambda out: self.assertEqual(parse_json(out)["deleted"], [])),
                            (["delete", "k"], lambda out: self.assertEqual(parse_json(out)["missing"], 1))):
            with self.subTest(args=args):
                rc, out, err = self.regcache("--store", ref, "--json", *args)
                self.assertEqual(rc, 0, err)
                check(out)
                self.assertIn("no store at " + ref, err)
                self.assertFalse(os.path.exists(path), "the command created the store")
        rc, out, err = self.regcache("--store", ref, "list")
        self.assertIn("no entries in " + ref, err)


class SharedLayoutTest(RegcacheTestCase):
    """A layout written by one user is readable by another, even mounted read-only."""

    def setUp(self):
        super().setUp()
        if not can_switch_user():
            self.skipTest("needs root and setpriv to act as another user")
        os.chmod(self.tmp, 0o755)
        self.layout = os.path.join(self.tmp, "shared")
        make_small_tree(os.path.join(self.ws, "t"))
        self.regcache("--store", "oci:" + self.layout, "save", "--key", "k", "t", check=True)
        shutil.rmtree(os.path.join(self.ws, "t"))

    def as_nobody(self, *args, cwd):
        e = clean_env("/nonexistent", None, None)
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", BIN, *args]
        p = subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def test_blobs_follow_the_umask(self):
        for dirpath, _, files in os.walk(os.path.join(self.layout, "blobs")):
            for f in files:
                mode = stat.S_IMODE(os.stat(os.path.join(dirpath, f)).st_mode)
                self.assertEqual(mode & 0o044, 0o044, f"{f} is {oct(mode)}: unreadable for others")

    def test_another_user_reads_a_layout_it_cannot_write(self):
        theirs = os.path.join(self.tmp, "nobody-ws")
        os.makedirs(theirs)
        os.chown(theirs, NOBODY, NOBODY)
        ref = "oci:" + self.layout
        before = snapshot(self.layout)
        rc, out, err = self.as_nobody("--store", ref, "--json", "list", cwd=theirs)
        self.assertEqual(rc, 0, err)
        self.assertEqual([e["key"] for e in parse_json(out)], ["k"])
        rc, out, err = self.as_nobody("--store", ref, "--json", "restore", "--key", "k", "--lookup-only", cwd=theirs)
        self.assertEqual((rc, parse_json(out)["result"]), (0, "hit"), err)
        rc, out, err = self.as_nobody("--store", ref, "--json", "prune", "--older-than", "0s", "--dry-run", cwd=theirs)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(parse_json(out)["deleted"]), 1)
        rc, out, err = self.as_nobody("--store", ref, "-v", "--json", "restore", "--key", "k", cwd=theirs)
        self.assertEqual((rc, parse_json(out)["result"]), (0, "hit"), err)
        self.assertEqual(sorted(os.listdir(os.path.join(theirs, "t"))), ["a.txt", "sub"])
        self.assertEqual(len([l for l in err.splitlines() if "could not record the use" in l]), 1, err)
        self.assertEqual(snapshot(self.layout), before, "a reader changed the layout")


class CancelTest(RegcacheTestCase):
    """SIGINT or SIGTERM in the middle of a transfer: exit 130/143, "interrupted", staging
    and temporary files removed, the destination untouched, no tag written. The fault
    proxy holds the transfer open, so the signal always lands mid-way."""

    def setUp(self):
        super().setUp()
        self.proxy = FaultProxy(services()["REG_OPEN"]).start()
        self.addCleanup(self.proxy.stop)
        self.ref = f"{self.proxy.address}/cancel/{uuid.uuid4().hex}"
        big = os.path.join(self.ws, "big")
        os.makedirs(big)
        for i in range(3):
            with open(os.path.join(big, f"r{i}.bin"), "wb") as f:
                f.write(os.urandom(4 * MIB))

    def start(self, *args):
        wait_for_binary()
        return subprocess.Popen([BIN, "--store", self.ref, "--json", *args], cwd=self.ws,
                                env=clean_env(self.home, None, self.tmpdir), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def wait_for_request(self, method, path_part):
        deadline = time.monotonic() + 120
        while not any(e["method"] == method and path_part in e["path"] for e in self.proxy.log):
            self.assertLess(time.monotonic(), deadline, "the proxy never saw the request")
            time.sleep(0.02)

    def test_save_cancelled_during_an_upload(self):
        for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
            with self.subTest(signal=sig.name):
                self.proxy.reset()
                self.proxy.set_rules([{"method": "PUT", "path": r"/blobs/uploads/", "always": True,
                                       "action": "stall", "seconds": 3600}])
                p = self.start("save", "--key", "k-" + sig.name, "big")
                self.wait_for_request("PUT", "/blobs/uploads/")
                p.send_signal(sig)
                out, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, code, err)
                self.assertIn("interrupted", err)
                self.assertEqual(parse_json(out)["result"], "error")
                self.proxy.set_rules([])
                rc, out, _ = self.regcache("--store", self.ref, "--json", "list", check=True)
                self.assertEqual(parse_json(out), [], "a cancelled save wrote a tag")
                self.assertNoLeftovers(self.tmp)

    def test_restore_cancelled_during_a_download(self):
        self.regcache("--store", self.ref, "save", "--key", "k", "big", check=True)
        shutil.rmtree(os.path.join(self.ws, "big"))
        make_small_tree(os.path.join(self.ws, "big"))  # the job's own files, to keep
        before = snapshot(os.path.join(self.ws, "big"))
        for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
            with self.subTest(signal=sig.name):
                self.proxy.reset()
                self.proxy.set_rules([{"method": "GET", "path": r"/blobs/sha256:", "always": True,
                                       "action": "stall", "where": "body", "after": MIB, "seconds": 3600}])
                p = self.start("restore", "--key", "k")
                self.wait_for_request("GET", "/blobs/sha256:")
                time.sleep(0.1)  # (not needed for correctness: the signal is handled whenever it lands)
                p.send_signal(sig)
                out, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, code, err)
                self.assertIn("interrupted by " + sig.name, err)
                self.assertEqual(parse_json(out)["result"], "error")
                self.assertTreeEqual(before, snapshot(os.path.join(self.ws, "big")))
                self.assertNoLeftovers(self.tmp)


if __name__ == "__main__":
    unittest.main()
