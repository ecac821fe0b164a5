"""Lifecycle (issue 7): `regcache prune` by age, count per group and total size, with
--dry-run, last-used ages, layout garbage collection, deletion through the GitHub
Packages REST API when a ghcr.io-like registry answers 405, and migration from the
images of the 2021 workaround workflow (`restore --from-image`, `import --from-image`).

Entries get their `org.opencontainers.image.created` from REGCACHE_NOW, which is also
prune's clock. Each group of tests skips, with a message saying why, until the binary
offers the feature (CLI11 prints the main help and exits 0 for an unknown subcommand,
so the gates look for the feature's own options in the help text)."""

import datetime
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tarfile
import time
import unittest
import uuid

from common import (ANNO_KEY, RegcacheTestCase, RegistryClient, SOURCE_DIR, StoreUnderTest, parse_json, run,
                    services, snapshot, unique_repo)

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "harness"))
from fault_proxy import FaultProxy  # noqa: E402
from ghpackages_server import GhPackagesServer  # noqa: E402
from legacy_image import SKOPEO, build_legacy_archive, push_legacy_image  # noqa: E402

EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
KIB = 1024
SAVE_ENV = {"REGCACHE_PACK_SIZE": "65536"}   # files of 96 KiB or more get a layer of their own


def at(days, hours=0):
    """An RFC 3339 UTC time `days` (and hours) after 2026-01-01T00:00:00Z."""
    return (EPOCH + datetime.timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


_help_cache = {}


def help_text(*cmd):
    """(exit code, stdout) of `regcache CMD --help`, cached."""
    if cmd not in _help_cache:
        rc, out, _ = run([*cmd, "--help"], timeout=60)
        _help_cache[cmd] = (rc, out)
    return _help_cache[cmd]


def require_prune():
    rc, out = help_text("prune")
    if rc != 0 or "--older-than" not in out:
        raise unittest.SkipTest("regcache prune is not implemented yet (issue 7): `regcache prune --help` "
                                "fails or does not show prune's options")


def require_github():
    require_prune()
    if "github" not in help_text("prune")[1].lower():
        raise unittest.SkipTest("regcache prune has no GitHub Packages API fallback yet "
                                "(`regcache prune --help` does not mention GitHub / REGCACHE_GITHUB_API_URL)")


def require_migration():
    require_prune()
    rc_i, out_i = help_text("import")
    rc_r, out_r = help_text("restore")
    if rc_i != 0 or "--from-image" not in out_i or "--from-image" not in out_r:
        raise unittest.SkipTest("migration is not implemented yet (issue 7): `regcache import --help` and "
                                "`regcache restore --help` do not offer --from-image")


def write(path, data, mode=0o644, mtime=1_700_000_000):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.utime(path, (mtime, mtime))


def fix_dir_mtimes(root, mtime=1_700_000_500):
    """Whole-second directory mtimes, deepest first (legacy tars keep seconds only)."""
    dirs = [d for d, _, _ in os.walk(root)]
    for d in sorted(dirs, key=lambda d: d.count(os.sep), reverse=True):
        os.utime(d, (mtime, mtime), follow_symlinks=False)


def referenced_blobs(layout, roots=None):
    """Every blob digest reached from roots (default: the layout's index.json), following
    manifests, indexes, configs and layers."""
    if roots is None:
        with open(os.path.join(layout, "index.json"), encoding="utf-8") as f:
            roots = [m["digest"] for m in json.load(f).get("manifests", [])]
    todo, seen = list(roots), set()
    while todo:
        d = todo.pop()
        if d in seen:
            continue
        seen.add(d)
        path = os.path.join(layout, "blobs", *d.split(":", 1))
        if not os.path.exists(path):
            continue
        try:
            with open(path, "rb") as f:
                doc = json.load(f)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and "schemaVersion" in doc:   # a manifest or an index
            todo += [m["digest"] for m in doc.get("manifests", [])]
            todo += [l["digest"] for l in doc.get("layers", [])]
            if "config" in doc:
                todo.append(doc["config"]["digest"])
    return seen


def blob_files(layout):
    root = os.path.join(layout, "blobs", "sha256")
    return {"sha256:" + n for n in os.listdir(root)} if os.path.isdir(root) else set()


class LifecycleCase(RegcacheTestCase):
    """Saving at a given time, pruning, and reading the store's entries."""

    backend = "layout"

    @classmethod
    def setUpClass(cls):
        require_prune()

    def setUp(self):
        super().setUp()
        self.st = self.store(self.backend)
        self.trees = {}

    def env(self, now, extra=None):
        e = dict(SAVE_ENV, REGCACHE_NOW=now)
        e.update(extra or {})
        return e

    def put(self, key, created, files=None, size=2000):
        """Saves ws/c holding `files` (rel -> bytes; default: one unique file) as key at `created`."""
        c = os.path.join(self.ws, "c")
        shutil.rmtree(c, ignore_errors=True)
        for rel, data in (files or {"f.bin": os.urandom(size)}).items():
            write(os.path.join(c, rel), data)
        fix_dir_mtimes(c)
        self.trees[key] = snapshot(c)
        return self.save(self.st, key, "c", env=self.env(created))

    def prune(self, *args, now, extra=None, check=True):
        rc, out, err = self.regcache("--store", self.st.ref, "--json", "prune", *args,
                                     env=dict(self.st.env, **self.env(now, extra)), check=True if check else None)
        return parse_json(out) if rc == 0 else (rc, out, err)

    def entries(self):
        return {e["key"]: e for e in self.list_keys(self.st)}

    def assertRestores(self, key, now=at(0)):
        """key restores (a restore records a use: at `now`, so last-used stays in 2026-01)."""
        c = os.path.join(self.ws, "c")
        shutil.rmtree(c, ignore_errors=True)
        out = self.restore(self.st, key, env=self.env(now))
        self.assertEqual(out["result"], "hit", key)
        self.assertTreeEqual(self.trees[key], snapshot(c), key)

    def assertDeleted(self, result, keys, before):
        """result['deleted'] names exactly `keys`, each with the digest, created and
        compressed size `list` showed before the prune."""
        got = {d["key"]: d for d in result["deleted"]}
        self.assertEqual(sorted(got), sorted(keys))
        for k, d in got.items():
            self.assertEqual((d["digest"], d["created"], d["bytes"]),
                             (before[k]["digest"], before[k]["created"], before[k]["compressed_bytes"]), k)


class PruneTests:
    """Policy tests, run against each backend (mixed into a TestCase per backend)."""

    def test_older_than_deletes_entries_created_before_the_cutoff(self):
        self.put("old-1", at(0))
        self.put("old-2", at(4, 12))
        self.put("new-1", at(9))
        before = self.entries()
        out = self.prune("--older-than", "7d", now=at(10))
        self.assertDeleted(out, ["old-1"], before)
        self.assertEqual((out["kept"], out["dry_run"]), (2, False))
        self.assertEqual(sorted(self.entries()), ["new-1", "old-2"])
        self.assertEqual(self.restore(self.st, "old-1", env=self.env(at(10)))["result"], "miss")
        self.assertRestores("new-1")
        # hours and minutes: old-2 is 5.5 days old, new-1 one day
        self.assertDeleted(self.prune("--older-than", "36h", now=at(10)), ["old-2"], before)
        out = self.prune("--older-than", "30m", "--dry-run", now=at(10))
        self.assertDeleted(out, ["new-1"], before)
        self.assertEqual(sorted(self.entries()), ["new-1"])

    def test_dry_run_reports_exactly_what_the_real_run_deletes(self):
        for i, key in enumerate(["a", "b", "c", "d"]):
            self.put(key, at(i * 2))
        before = self.entries()
        state = self.store_state()
        dry = self.prune("--older-than", "3d", "--dry-run", now=at(7), extra={"REGCACHE_GC_GRACE": "0"})
        self.assertTrue(dry["dry_run"])
        self.assertEqual(self.store_state(), state, "a dry run changed the store")
        real = self.prune("--older-than", "3d", now=at(7), extra={"REGCACHE_GC_GRACE": "0"})
        self.assertFalse(real["dry_run"])
        self.assertDeleted(dry, ["a", "b"], before)
        key = lambda d: d["key"]  # noqa: E731
        self.assertEqual(sorted(dry["deleted"], key=key), sorted(real["deleted"], key=key))
        self.assertEqual((dry["kept"], dry["freed_bytes"]), (real["kept"], real["freed_bytes"]))
        self.assertEqual(sorted(self.entries()), ["c", "d"])

    def test_keep_newest_per_group(self):
        self.put("misc-1", at(0))
        for i in range(3):
            self.put(f"linux-{i}", at(1 + i))
        for i in range(2):
            self.put(f"mac-{i}", at(5 + i))
        before = self.entries()
        out = self.prune("--keep", "1", "--group-by", "linux-", "--group-by", "mac-", now=at(10))
        # entries in no group are not counted by --keep
        self.assertDeleted(out, ["linux-0", "linux-1", "mac-0"], before)
        self.assertEqual(sorted(self.entries()), ["linux-2", "mac-1", "misc-1"])
        # without --group-by the whole store is one group
        self.assertDeleted(self.prune("--keep", "2", now=at(10)), ["misc-1"], before)
        self.assertRestores("linux-2")

    def test_an_entry_dated_in_the_future_counts_as_the_oldest(self):
        # Its pusher chose the date, to fill the newest --keep slots and have the real
        # entries pruned; a created time past this machine's clock (and a day) counts as none.
        self.put("real", at(9))
        self.put("future", "2150-01-01T00:00:00Z")
        before = self.entries()
        self.assertDeleted(self.prune("--keep", "1", now=at(10)), ["future"], before)
        self.assertRestores("real")

    def test_prefix_limits_the_entries_considered(self):
        self.put("linux-old", at(0))
        self.put("mac-old", at(0, 1))
        self.put("linux-new", at(9))
        before = self.entries()
        out = self.prune("--prefix", "linux-", "--older-than", "1d", now=at(10))
        self.assertDeleted(out, ["linux-old"], before)
        self.assertEqual(sorted(self.entries()), ["linux-new", "mac-old"])

    def test_max_size_keeps_the_newest_within_budget_counting_shared_blobs_once(self):
        shared = os.urandom(200 * KIB)
        for i, key in enumerate(["A", "B", "C"]):
            self.put(key, at(i), {"s.bin": shared, "u.bin": os.urandom(200 * KIB)})
        before = self.entries()
        blobs = {k: self.blob_sizes(before[k]["tag"]) for k in before}
        union = lambda *ks: sum(dict(p for k in ks for p in blobs[k].items()).values())  # noqa: E731
        common = set(blobs["A"]) & set(blobs["B"]) & set(blobs["C"])
        a_only = set(blobs["A"]) - set(blobs["B"]) - set(blobs["C"])
        self.assertTrue(common, "precondition: the entries share the s.bin layer")
        budget = 700 * KIB
        self.assertLess(union("B", "C"), budget, "precondition")
        self.assertGreater(union("A", "B", "C"), budget, "precondition")
        self.assertGreater(sum(blobs["B"].values()) + sum(blobs["C"].values()), budget,
                           "precondition: only dedup makes B and C fit")
        self.assertEqual(self.prune("--max-size", "1G", "--dry-run", now=at(5))["deleted"], [])
        out = self.prune("--max-size", "700KiB", now=at(5), extra={"REGCACHE_GC_GRACE": "0"})
        self.assertDeleted(out, ["A"], before)
        # freed: the layer and config blobs only A referenced (manifests not counted)
        self.assertEqual(out["freed_bytes"], sum(blobs["A"][d] for d in a_only))
        self.assertEqual(sorted(self.entries()), ["B", "C"])
        for d in common:
            self.assertTrue(self.st.client.has_blob(d), "a layer shared with kept entries was removed")
        self.assertRestores("B")
        self.assertRestores("C")

    def test_bad_arguments_are_usage_errors(self):
        self.put("x", at(0))
        # "999999d" (meant as "never") once wrapped around the clock into "always" and
        # deleted everything; past a century is refused, as is a grace period past it.
        for args in (["--older-than", "7x"], ["--older-than", "-1d"], ["--max-size", "lots"],
                     ["--keep", "many"], ["--by", "sometimes", "--older-than", "1d"],
                     ["--older-than", "999999d"], ["--older-than", "20000w"], ["--older-than", "0d5"]):
            with self.subTest(args=args):
                rc, _, err = self.prune(*args, now=at(1), check=False)
                self.assertEqual(rc, 2, err)
        rc, _, err = self.prune("--keep", "100", now=at(1), check=False, extra={"REGCACHE_GC_GRACE": "999999d"})
        self.assertEqual(rc, 2, err)
        self.assertIn("REGCACHE_GC_GRACE", err)
        rc, _, err = self.prune("--older-than", "1d", now="2099-01-01", check=False)
        self.assertEqual(rc, 2, err)
        self.assertIn("REGCACHE_NOW", err)
        self.assertEqual(sorted(self.entries()), ["x"])

    def test_last_used_keeps_an_old_entry_restored_recently(self):
        self.put("used-old", at(0))
        self.put("unused-old", at(0, 1))
        self.put("new", at(9))
        self.assertEqual(self.restore(self.st, "used-old", env={"REGCACHE_NOW": at(8)})["result"], "hit")
        before = self.entries()
        self.assertEqual(sorted(before), ["new", "unused-old", "used-old"], "a use record shows up as an entry")
        by_created = self.prune("--older-than", "7d", "--dry-run", now=at(10))
        self.assertDeleted(by_created, ["unused-old", "used-old"], before)
        self.assertEqual(self.prune("--older-than", "7d", "--by", "created", "--dry-run", now=at(10))["deleted"],
                         by_created["deleted"])
        out = self.prune("--older-than", "7d", "--by", "last-used", now=at(10))
        self.assertDeleted(out, ["unused-old"], before)
        self.assertEqual(sorted(self.entries()), ["new", "used-old"])
        self.assertRestores("used-old", now=at(8))
        # the use is 2 days old at day 10; at day 16 it is 8 days old
        out = self.prune("--older-than", "7d", "--by", "last-used", now=at(16))
        self.assertDeleted(out, ["used-old"], before)


class PruneLayoutTest(PruneTests, LifecycleCase):
    backend = "layout"

    def store_state(self):
        """Every file of the layout with its contents' digest."""
        path = self.st.ref[len("oci:"):]
        out = {}
        for d, _, files in os.walk(path):
            for n in files:
                with open(os.path.join(d, n), "rb") as f:
                    out[os.path.relpath(os.path.join(d, n), path)] = hashlib.sha256(f.read()).hexdigest()
        return out

    def blob_sizes(self, tag):
        m = self.st.manifest(tag)
        return {b["digest"]: b["size"] for b in m["layers"] + [m["config"]]}


class PruneOpenRegistryTest(PruneTests, LifecycleCase):
    backend = "open"

    def store_state(self):
        return {t: self.st.client.get_manifest(t) for t in self.st.client.tags()}

    def blob_sizes(self, tag):
        m = self.st.manifest(tag)
        return {b["digest"]: b["size"] for b in m["layers"] + [m["config"]]}


class LayoutGcTest(LifecycleCase):
    """On a layout, prune removes blobs no index entry reaches, unless younger than
    REGCACHE_GC_GRACE seconds (default 3600) by the real clock and the file's mtime."""

    backend = "layout"

    def setUp(self):
        super().setUp()
        self.path = self.st.ref[len("oci:"):]
        shared = os.urandom(150 * KIB)
        self.put("A", at(0), {"s.bin": shared, "u.bin": os.urandom(150 * KIB)})
        self.put("B", at(5), {"s.bin": shared, "u.bin": os.urandom(150 * KIB)})
        e = self.entries()
        # what only A reaches: its manifest, its config, its own layer
        self.a_blobs = referenced_blobs(self.path, [e["A"]["digest"]]) - \
            referenced_blobs(self.path, [e["B"]["digest"]])

    def test_gc_removes_what_nothing_references(self):
        self.assertGreaterEqual(len(self.a_blobs), 3, "precondition: A has its own manifest, config, layer")
        self.prune("--older-than", "3d", now=at(6), extra={"REGCACHE_GC_GRACE": "0"})
        self.assertEqual(blob_files(self.path), referenced_blobs(self.path))
        self.assertFalse(self.a_blobs & blob_files(self.path))
        self.assertRestores("B")
        self.assertNoLeftovers()

    def test_dry_run_collects_nothing(self):
        files = blob_files(self.path)
        self.prune("--older-than", "3d", "--dry-run", now=at(6), extra={"REGCACHE_GC_GRACE": "0"})
        self.assertEqual(blob_files(self.path), files)

    def test_young_blobs_survive_the_default_grace(self):
        self.prune("--older-than", "3d", now=at(6))
        self.assertEqual(sorted(self.entries()), ["B"])
        self.assertTrue(self.a_blobs <= blob_files(self.path), "blobs written a moment ago were collected")
        # a later prune that deletes no entry still collects them once they are old enough
        old = time.time() - 7200
        for d in self.a_blobs:
            os.utime(os.path.join(self.path, "blobs", *d.split(":", 1)), (old, old))
        fresh = b"an upload another job is about to reference"
        fresh_digest = "sha256:" + hashlib.sha256(fresh).hexdigest()
        write(os.path.join(self.path, "blobs", *fresh_digest.split(":", 1)), fresh, mtime=int(time.time()))
        out = self.prune("--older-than", "3650d", now=at(6))
        self.assertEqual(out["deleted"], [])
        self.assertFalse(self.a_blobs & blob_files(self.path))
        self.assertIn(fresh_digest, blob_files(self.path))
        self.assertRestores("B")


# ---------------------------------------------------------------------------------------
# ghcr.io: deletion through the GitHub Packages REST API

TOKENS = {"tok-full": ["read:packages", "delete:packages"], "tok-read": ["read:packages"]}


class GithubPackagesTest(LifecycleCase):
    """A store on a host named by REGCACHE_GITHUB_REGISTRY is treated as ghcr.io: the
    stand-in proxies /v2/ to REG_OPEN but answers 405 to DELETE, and regcache deletes
    through the REST API at REGCACHE_GITHUB_API_URL (the same stand-in)."""

    @classmethod
    def setUpClass(cls):
        require_github()

    def setUp(self):
        RegcacheTestCase.setUp(self)
        self.upstream = services()["REG_OPEN"]
        self.gh = GhPackagesServer(TOKENS, orgs=["acme"], login="octocat", registry_upstream=self.upstream)
        self.base = self.gh.start()
        self.addCleanup(self.gh.stop)
        self.host = self.base.split("//", 1)[1]
        self.trees = {}
        self.use_owner("acme")

    def use_owner(self, owner, token="tok-full"):
        self.owner, self.package = owner, unique_repo("app").split("/", 1)[1] + "/cache"
        repo = f"{owner}/{self.package}"
        env = {"REGCACHE_GITHUB_API_URL": self.base, "REGCACHE_GITHUB_REGISTRY": self.host,
               "GITHUB_TOKEN": token, "GITHUB_ACTOR": "octocat"}
        self.st = StoreUnderTest("ghcr", f"{self.host}/{repo}", env, RegistryClient(self.host, repo),
                                 self.host, repo)
        self.direct = RegistryClient(self.upstream, f"{owner}/{self.package}")

    def rest_requests(self, method=None):
        return [r for r in self.gh.requests if not r["path"].startswith("/v2")
                and (method is None or r["method"] == method)]

    def fill(self):
        self.put("old-1", at(0))
        self.put("old-2", at(1))
        self.put("new-1", at(9))
        # more versions than one page holds, newer than ours, so ours are on page 2 (the
        # stand-in dates the versions our saves create by the real clock, not REGCACHE_NOW)
        newer = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        for i in range(120):
            self.gh.add_version(self.owner, self.package, "sha256:%064x" % i, [f"other-{i}"], newer)
        return self.entries()

    def check_pruned(self, route):
        before = self.fill()
        out = self.prune("--older-than", "7d", now=at(10))
        self.assertDeleted(out, ["old-1", "old-2"], before)
        remaining = {v["name"] for v in self.gh.versions(self.owner, self.package)}
        self.assertNotIn(before["old-1"]["digest"], remaining)
        self.assertNotIn(before["old-2"]["digest"], remaining)
        self.assertIn(before["new-1"]["digest"], remaining)
        self.assertIsNone(self.direct.get_manifest(before["old-1"]["digest"]))
        tags = self.direct.tags()
        self.assertIn(before["new-1"]["tag"], tags)
        self.assertNotIn(before["old-1"]["tag"], tags)
        enc = self.package.replace("/", "%2F")
        deletes = self.rest_requests("DELETE")
        self.assertEqual(sorted(r["status"] for r in deletes), [204, 204])
        for r in deletes:
            self.assertRegex(r["path"], rf"^/{route}/{self.owner}/packages/container/{enc}/versions/\d+$")
        for r in self.rest_requests():
            self.assertEqual(r["token"], "tok-full")
            self.assertIn("application/vnd.github+json", r["accept"] or "")
            self.assertEqual(r["api_version"], "2022-11-28")
            self.assertIn(r["status"], (200, 204, 404), r)
        self.assertTrue(any(r["query"].get("page") == "2" for r in self.rest_requests("GET")),
                        "the version list was not paged through (Link rel=next)")
        self.assertRestores("new-1")

    def test_prune_deletes_org_package_versions_through_the_api(self):
        self.check_pruned("orgs")

    def test_prune_falls_back_to_the_users_route(self):
        self.use_owner("alice")
        self.check_pruned("users")

    def test_delete_command_uses_the_api_too(self):
        before = self.fill()
        self.regcache("--store", self.st.ref, "delete", "old-1", env=self.st.env, check=True)
        self.assertNotIn(before["old-1"]["digest"], {v["name"] for v in self.gh.versions(self.owner, self.package)})
        self.assertEqual(sorted(self.entries()), ["new-1", "old-2"])

    def test_token_without_delete_scope_fails_and_names_it(self):
        before = self.fill()
        self.st.env["GITHUB_TOKEN"] = "tok-read"
        rc, out, err = self.prune("--older-than", "7d", now=at(10), check=False)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("delete:packages", err)
        self.assertEqual(sorted(self.entries()), sorted(before))
        self.assertEqual(len(self.gh.versions(self.owner, self.package)), 123)


# ---------------------------------------------------------------------------------------
# Migration from the 2021 workaround images


class MigrationTest(RegcacheTestCase):
    """Images built by tests/harness/legacy_image.py (tar -P -czf cache.tgz + COPY),
    pushed to REG_OPEN with Docker and with OCI media types."""

    @classmethod
    def setUpClass(cls):
        require_migration()
        if not os.access(SKOPEO, os.X_OK):
            raise unittest.SkipTest("skopeo is not installed")

    def setUp(self):
        super().setUp()
        self.host = services()["REG_OPEN"]
        self.target = os.path.join(self.ws, "target")          # stored as ws/target
        self.target2 = os.path.join(self.ws, "target2")        # a sibling sharing the prefix
        self.ext = os.path.join(self.tmp, "elsewhere", "deps")  # stored as abs/...
        write(os.path.join(self.target, "debug/app"), b"\x7fELF..." + os.urandom(3000), 0o755)
        write(os.path.join(self.target, "debug/deps/app-1234"), b"same inode\n")
        os.link(os.path.join(self.target, "debug/deps/app-1234"), os.path.join(self.target, "debug/app.d"))
        os.symlink("deps/app-1234", os.path.join(self.target, "debug/link"))
        os.utime(os.path.join(self.target, "debug/link"), (1_700_000_000,) * 2, follow_symlinks=False)
        os.makedirs(os.path.join(self.target, "empty"))
        write(os.path.join(self.target, "note.txt"), b"note\n", 0o600)
        write(os.path.join(self.target2, "other.txt"), b"not asked for\n")
        write(os.path.join(self.ext, "registry/index.json"), b"{}\n")
        for root in (self.target, self.target2, self.ext):
            fix_dir_mtimes(root)
        self.want = {p: snapshot(p) for p in (self.target, self.ext)}
        archive = build_legacy_archive([self.target, self.target2, self.ext], os.path.join(self.tmp, "img"))
        self.refs = {}
        for media in ("docker", "oci"):
            ref = f"{self.host}/{unique_repo('legacy')}:v1"
            push_legacy_image(archive, ref, media=media)
            self.refs[media] = ref

    def wipe(self):
        for p in (self.target, self.target2, self.ext):
            shutil.rmtree(p, ignore_errors=True)

    def check_restored(self):
        for p, snap in self.want.items():
            self.assertTreeEqual(snap, snapshot(p), p)
        self.assertFalse(os.path.exists(self.target2), "a path that was not asked for was restored")
        self.assertNoLeftovers()

    def test_restore_from_image_restores_only_the_given_paths(self):
        for media, ref in self.refs.items():
            with self.subTest(media=media):
                self.wipe()
                _, out, _ = self.regcache("--json", "restore", "--from-image", ref,
                                          "--path", self.target, "--path", self.ext, check=True)
                self.assertEqual(parse_json(out)["result"], "hit")
                self.check_restored()

    def test_restore_from_image_by_digest_and_with_docker_scheme(self):
        repo, tag = self.refs["docker"].rsplit(":", 1)
        client = RegistryClient(self.host, repo.split("/", 1)[1])
        digest = "sha256:" + hashlib.sha256(client.get_manifest(tag)).hexdigest()
        for ref in (f"{repo}@{digest}", "docker://" + self.refs["docker"]):
            with self.subTest(ref=ref):
                self.wipe()
                self.regcache("restore", "--from-image", ref, "--path", self.target, "--path", self.ext, check=True)
                self.check_restored()

    def test_restore_from_image_checks_destinations_like_any_restore(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to play another user")
        elsewhere = os.path.dirname(self.ext)
        shutil.rmtree(elsewhere)
        private = os.path.join(self.tmp, "root-only")
        os.makedirs(private, mode=0o700)
        os.symlink(private, elsewhere)
        os.lchown(elsewhere, 65534, 65534)  # planted by another user
        rc, _, err = self.regcache("restore", "--from-image", self.refs["oci"], "--path", self.ext)
        self.assertEqual(rc, 1, err)
        self.assertIn("refusing to follow symlink", err)
        self.assertEqual(os.listdir(private), [], "the restore wrote through the planted link")

    def test_restore_from_image_needs_a_path(self):
        rc, _, err = self.regcache("restore", "--from-image", self.refs["oci"])
        self.assertEqual(rc, 2, err)

    def test_the_stores_password_stays_with_the_store(self):
        # REGCACHE_USERNAME/PASSWORD are the main store's; the image's registry (another
        # host: a proxy in front of REG_OPEN that records whether requests carried
        # Authorization) gets none of them, on import and on restore --from-image.
        st = self.store("basic")
        proxy = FaultProxy(self.host).start()
        self.addCleanup(proxy.stop)
        ref = proxy.address + "/" + self.refs["oci"].split("/", 1)[1]
        self.regcache("--store", st.ref, "import", "--from-image", ref, "--key", "imported",
                      "--path", self.target, "--path", self.ext, env=st.env, check=True)
        self.assertEqual([e["key"] for e in self.list_keys(st)], ["imported"])
        self.wipe()
        self.regcache("--store", st.ref, "restore", "--from-image", ref, "--path", self.target,
                      env=st.env, check=True)
        self.assertTrue(proxy.log, "the image came through the proxy")
        self.assertFalse([e for e in proxy.log if e["auth"]], "the store's password went to another host")

    def test_import_creates_an_entry_a_plain_restore_restores(self):
        for backend in ("layout", "open"):
            for media, ref in self.refs.items():
                with self.subTest(backend=backend, media=media):
                    st = self.store(backend)
                    key = f"legacy-{media}"
                    self.regcache("--store", st.ref, "--json", "import", "--from-image", ref, "--key", key,
                                  "--path", self.target, "--path", self.ext, env=st.env, check=True)
                    [entry] = self.list_keys(st)
                    self.assertEqual(entry["key"], key)
                    manifest = st.manifest(entry["tag"])
                    self.assertEqual(manifest["annotations"][ANNO_KEY], key)
                    self.assertEqual(sorted(json.loads(manifest["annotations"]["dev.regcache.roots"])),
                                     sorted(["ws/target", "abs" + self.ext]))
                    self.wipe()
                    # The absolute root is written only when named (or with --all-roots).
                    self.assertEqual(self.restore(st, key, "target", self.ext)["result"], "hit")
                    self.check_restored()
                    self.wipe()
                    self.assertEqual(self.restore(st, key, extra=["--all-roots"])["result"], "hit")
                    self.check_restored()

    def hostile_image(self, members):
        """An image whose cache.tgz holds `members`: (name, kind, data_or_target, mode)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as t:
            for name, kind, payload, mode in members:
                info = tarfile.TarInfo(name)
                info.mode, info.mtime = mode, 1_700_000_000
                if kind == "file":
                    info.size = len(payload)
                    t.addfile(info, io.BytesIO(payload))
                elif kind == "dir":
                    info.type = tarfile.DIRTYPE
                    t.addfile(info)
                else:
                    info.type, info.linkname = tarfile.SYMTYPE, payload
                    t.addfile(info)
        work = os.path.join(self.tmp, "hostile-" + uuid.uuid4().hex[:6])
        os.makedirs(work)
        tgz = os.path.join(work, "cache.tgz")
        with open(tgz, "wb") as f:
            f.write(buf.getvalue())
        ref = f"{self.host}/{unique_repo('hostile')}:v1"
        push_legacy_image(build_legacy_archive([], work, cache_tgz=tgz), ref, media="oci")
        return ref

    def test_from_image_applies_the_restore_safety_rules(self):
        root = os.path.join(self.tmp, "victim")
        outside = os.path.join(self.tmp, "outside")
        os.makedirs(outside)
        cases = {
            "dotdot": [(root + "/", "dir", None, 0o755), (root + "/ok.txt", "file", b"ok", 0o644),
                       (root + "/../escaped.txt", "file", b"gotcha", 0o644)],
            "symlink-out": [(root + "/", "dir", None, 0o755), (root + "/link", "symlink", outside, 0o777),
                            (root + "/link/pwned", "file", b"gotcha", 0o644)],
            "setuid": [(root + "/", "dir", None, 0o755), (root + "/suid", "file", b"#!/bin/sh\n", 0o4755)],
        }
        for name, members in cases.items():
            with self.subTest(case=name):
                ref = self.hostile_image(members)
                rc, out, err = self.regcache("restore", "--from-image", ref, "--path", root)
                self.assertEqual(rc, 1, out + err)
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "escaped.txt")))
                self.assertEqual(os.listdir(outside), [])
                if os.path.exists(root):
                    self.assertFalse(any(stat.S_IMODE(os.lstat(os.path.join(d, f)).st_mode) & 0o6000
                                         for d, _, fs in os.walk(root) for f in fs))
                self.assertNoLeftovers()


if __name__ == "__main__":
    unittest.main()
