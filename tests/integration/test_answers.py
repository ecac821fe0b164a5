"""Answers a script and a person can use: one JSON object on every outcome, errors
included; idempotent delete; a restore timeout that says what happened; messages that
name the problem (did-you-mean, plurals, a listing with a header, prune's grace period,
malformed environment values, sizes without a unit)."""
import json
import os
import re
import sys
import unittest
import uuid

from common import MIB, RegcacheTestCase, make_small_tree, parse_json, services

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from fault_proxy import FaultProxy  # noqa: E402


class JsonOnEveryOutcomeTest(RegcacheTestCase):
    """Every command's error path prints one JSON object with --json."""

    def test_error_objects(self):
        store = "oci:" + os.path.join(self.tmp, "store")
        cases = [
            (["save", "--key", "k", "no-such-path"], 1, "path not found"),
            (["save", "--key", "bad,key", "."], 2, "comma"),
            (["restore", "--key", "k", "--timeout", "0"], 2, "--timeout"),
            (["restore", "--restore-key", "p-"], 2, "--key"),
            (["list", "--bogus"], 2, "--bogus"),
            (["delete"], 2, "keys"),
            (["prune"], 2, "policy"),
            (["prune", "--max-size", "5"], 2, "unit"),
            (["import", "--key", "k"], 2, "image"),
            (["key", "{{ nosuch }}"], 2, "nosuch"),
            (["hash-files", "no-match-*"], 1, "no file matches"),
            (["frobnicate"], 2, "frobnicate"),
            (["presets", "--bogus"], 2, "--bogus"),
            (["completion", "fish"], 2, "fish"),
            (["man", "--bogus"], 2, "--bogus"),
            (["save", "--key", "k", "--level", "-1", "."], 2, "--level"),
            (["save", "--key", "bad\udcffkey", "."], 2, "UTF-8"),
            (["prune", "--older-than", "999999d"], 2, "36500d"),
        ]
        for args, code, mention in cases:
            with self.subTest(args=args):
                rc, out, err = self.regcache("--store", store, "--json", *args)
                self.assertEqual(rc, code, err)
                got = parse_json(out)
                self.assertEqual((got["result"], got["exit_code"]), ("error", code))
                self.assertIn(mention, got["error"])
                self.assertIn(got["error"], err)
        # --json=true asks as --json does; after "--", --json is a path, not a flag.
        rc, out, err = self.regcache("--store", store, "--json=true", "save", "--key", "k", "no-such-path")
        self.assertEqual((rc, parse_json(out)["result"]), (1, "error"))
        rc, out, err = self.regcache("--store", store, "save", "--key", "k", "--", "--json")
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "", "JSON nobody asked for")
        self.assertIn("path not found: --json", err)
        # Known fields come along: the key of a failed save.
        rc, out, _ = self.regcache("--store", store, "--json", "save", "--key", "k", "no-such-path")
        self.assertEqual(parse_json(out)["key"], "k")
        # A malformed environment value, for a command that would otherwise succeed.
        rc, out, err = self.regcache("--store", store, "--json", "presets", env={"REGCACHE_JOBS": "abc"})
        self.assertEqual(rc, 2)
        self.assertIn("REGCACHE_JOBS='abc'", parse_json(out)["error"])

    def test_hash_files_json(self):
        with open(os.path.join(self.ws, "lock"), "w") as f:
            f.write("x")
        rc, out, err = self.regcache("--json", "hash-files", "lock", check=True)
        got = parse_json(out)
        self.assertRegex(got["digest"], r"^[0-9a-f]{64}$")
        self.assertEqual(got["globs"], ["lock"])


class MessagesTest(RegcacheTestCase):

    def test_did_you_mean(self):
        for args, near in ((["restore", "--key", "k", "--restore-keys", "a-"], "--restore-key"),
                           (["--stor", "x", "list"], "--store"),
                           (["savee", "--key", "k"], "save")):
            with self.subTest(args=args):
                rc, out, err = self.regcache(*args)
                self.assertEqual(rc, 2)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn("did you mean", err)
                self.assertIn(near, err)

    def test_parse_errors_name_the_word_at_fault(self):
        for args, line in ((["--bogus"], "unknown option '--bogus'"),
                           (["--stroe", "oci:x", "list"], "unknown option '--stroe'; did you mean --store?"),
                           (["restore", "--key", "a", "--key", "b"], "--key is given more than once"),
                           (["restore", "--key"], "--key needs a value"),
                           (["-q", "-v", "list"], "--quiet excludes --verbose"),
                           (["--verbose", "list", "--quiet"], "--quiet excludes --verbose"),
                           (["delete"], "missing keys (see regcache delete --help)"),
                           (["list", "extra", "words"], "unexpected arguments 'extra' 'words'"),
                           ([], "a command is required")):
            with self.subTest(args=args):
                rc, out, err = self.regcache(*args)
                self.assertEqual(rc, 2, err)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn("usage error: " + line, err)

    def test_timeout_zero_is_a_short_message(self):
        rc, out, err = self.regcache("restore", "--key", "k", "--timeout", "0")
        self.assertEqual(rc, 2)
        self.assertLess(len(err), 200, err)
        self.assertIn("greater than 0", err)

    def test_a_template_that_expands_to_nothing(self):
        rc, out, err = self.regcache("restore", "--key", "{{ env \"UNSET_VARIABLE\" }}")
        self.assertEqual(rc, 2, err)
        self.assertIn("expands to an empty key", err)

    def test_a_failing_hash_command_shows_its_last_lines(self):
        script = "import sys\nfor i in range(200): print('frame', i, file=sys.stderr)\nsys.exit(3)\n"
        with open(os.path.join(self.ws, "fail.py"), "w") as f:
            f.write(script)
        rc, out, err = self.regcache("key", '{{ hashCommand "python3 fail.py" }}')
        self.assertEqual(rc, 1, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("exit 3", err)
        self.assertIn("frame 199", err)
        self.assertNotIn("frame 0 ", err)

    def test_plurals_and_the_listing(self):
        store = self.store("layout")
        os.makedirs(os.path.join(self.ws, "one"))
        with open(os.path.join(self.ws, "one", "f"), "w") as f:
            f.write("x")
        rc, out, err = self.regcache("--store", store.ref, "save", "--key", "a-much-longer-key-than-the-other", "one",
                                     check=True)
        self.assertRegex(err, r"Saved 1 file \(1 B\) .*: 1 layer \(0 reused\)")
        rc, out, err = self.regcache("--store", store.ref, "restore", "--key", "a-much-longer-key-than-the-other",
                                     check=True)
        self.assertIn("restored 1 file (1 B)", err)
        make_small_tree(os.path.join(self.ws, "two"))
        self.regcache("--store", store.ref, "save", "--key", "k2", "two", check=True)
        rc, out, err = self.regcache("--store", store.ref, "list", check=True)
        lines = out.splitlines()
        self.assertEqual(len(lines), 3, out)
        self.assertRegex(lines[0], r"^CREATED\s+KEY\s+SIZE\s+STORED\s+LAYERS")
        # Columns line up: the size column ends at the same place on every line.
        ends = {len(re.match(r"^(\S+ \S+|CREATED)\s+\S+\s+\S+( \S+)?", l).group(0)) for l in lines}
        self.assertEqual(len(ends), 1, out)
        empty = "oci:" + os.path.join(self.tmp, "empty")
        self.regcache("--store", empty, "save", "--key", "x", "one", check=True)
        self.regcache("--store", empty, "delete", "x", check=True)
        rc, out, err = self.regcache("--store", empty, "list", check=True)
        self.assertEqual(out, "")
        self.assertIn("no entries in " + empty, err)

    def test_prune_says_what_waits_for_the_grace_period(self):
        store = self.store("layout")
        make_small_tree(os.path.join(self.ws, "t"))
        self.regcache("--store", store.ref, "save", "--key", "old", "t", check=True)
        rc, out, err = self.regcache("--store", store.ref, "--json", "prune", "--older-than", "0s",
                                     env={"REGCACHE_NOW": "2099-01-01T00:00:00Z"}, check=True)
        got = parse_json(out)
        self.assertEqual(len(got["deleted"]), 1)
        self.assertEqual(got["collected_bytes"], 0)
        self.assertGreater(got["waiting_bytes"], 0)
        self.assertIn("wait until older than the grace period", err)
        self.assertNotIn("freed", err)

    def test_sizes_need_a_unit(self):
        rc, out, err = self.regcache("prune", "--max-size", "5")
        self.assertEqual(rc, 2)
        self.assertIn("needs a unit", err)


class RestoreTimeoutTest(RegcacheTestCase):
    """A restore that times out reports the time it really took, and says why it missed."""

    def test_timeout_is_reported_as_such(self):
        proxy = FaultProxy(services()["REG_OPEN"]).start()
        self.addCleanup(proxy.stop)
        ref = f"{proxy.address}/timeout/{uuid.uuid4().hex}"
        make_small_tree(os.path.join(self.ws, "t"))
        self.regcache("--store", ref, "save", "--key", "k", "t", check=True)
        proxy.set_rules([{"method": "GET", "path": r"/manifests/", "always": True, "action": "stall", "seconds": 3600}])
        rc, out, err = self.regcache("--store", ref, "--json", "restore", "--key", "k", "--timeout", "1")
        self.assertEqual(rc, 0, err)
        got = parse_json(out)
        self.assertEqual(got["result"], "miss")
        self.assertGreaterEqual(got["seconds"], 1.0)  # the timeout itself: a lower bound by construction
        self.assertIn("timed out", got["reason"])
        rc, out, err = self.regcache("--store", ref, "restore", "--key", "k", "--timeout", "1", "--fail-on-miss")
        self.assertEqual(rc, 3, err)
        self.assertIn("timed out", err.splitlines()[-1])
        self.assertNotIn("no cache entry", err)


if __name__ == "__main__":
    unittest.main()
