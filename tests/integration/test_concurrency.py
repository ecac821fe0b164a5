"""Concurrency tests (issue 6): many regcache processes on one store at once.

- 16 processes save the same key at once (same content, then different content per
  process), into the open registry and into one local layout: every process succeeds
  ("saved" or "exists"), the store holds exactly one valid entry under the key, and a
  restore gives exactly the tree of the process whose manifest won.
- 8 writers save 8 different keys into one layout at once, several rounds (the last with
  --force on existing keys): index.json stays valid JSON, holds every key once, and every
  entry is complete.
- 8 restores of one entry at once into 8 destinations: each is exact; the shared state
  file stays valid JSON.
"""

import json
import os
import random
import sys
import uuid

from common import RegcacheTestCase, diff_snapshots, find_leftovers, services, snapshot
from reliability import LayoutChecker, Procs, RegistryChecker, churn_tree, layout_strays, make_crash_tree, \
    temp_names

ENV = {"REGCACHE_PACK_SIZE": "262144", "REGCACHE_JOBS": "2"}
SEED = int(os.environ.get("REGCACHE_CONCURRENCY_SEED") or random.SystemRandom().randrange(1 << 32))


def small_tree(root, rng):
    """~1.2 MiB in about six 256 KiB packs: 120 small files and two 256 KiB random files."""
    return make_crash_tree(root, rng, small=120, big=2, big_size=256 * 1024)


class ConcurrencyCase(RegcacheTestCase):
    @classmethod
    def setUpClass(cls):
        print(f"\n{cls.__name__}: REGCACHE_CONCURRENCY_SEED={SEED}", file=sys.stderr, flush=True)

    def setUp(self):
        super().setUp()
        self.procs = Procs()
        self.addCleanup(self.procs.cleanup)
        self.rng = random.Random(f"{SEED}-{self.id()}")

    def make(self, backend):
        """(store ref, checker, layout path or None) for a fresh store."""
        if backend == "layout":
            path = os.path.join(self.tmp, "layout-" + uuid.uuid4().hex[:8])
            return "oci:" + path, LayoutChecker(path), path
        host = services()["REG_OPEN"]
        repo = f"concurrency/{uuid.uuid4().hex}"
        return f"{host}/{repo}", RegistryChecker(host, repo), None

    def run_all(self, ref, jobs):
        """Starts every (args, cwd, home) of jobs at once, waits for all; fails listing every
        process that did not exit 0."""
        started = [self.procs.start(["--store", ref, "--json", *args], home=home, cwd=cwd, tmpdir=self.tmpdir,
                                    env=ENV) for args, cwd, home in jobs]
        for p in started:
            p.wait(timeout=300)
        bad = [p for p in started if p.rc != 0]
        if bad:
            self.fail(f"seed {SEED}: {len(bad)} of {len(started)} concurrent runs failed:\n" +
                      "\n".join(p.describe() for p in bad))
        return started

    def check(self, checker, ctx):
        try:
            return checker.check()
        except AssertionError as e:
            self.fail(f"seed {SEED}, {ctx}: the store is inconsistent: {e}")

    def restore_into(self, ref, key, name):
        """Restores key into a fresh workspace; returns the snapshot of its target."""
        ws = os.path.join(self.tmp, name)
        os.makedirs(ws)
        p = self.procs.start(["--store", ref, "--json", "restore", "--key", key], home=self.home, cwd=ws,
                             tmpdir=self.tmpdir, env=ENV)
        p.wait()
        self.assertEqual(p.rc, 0, p.describe())
        self.assertEqual(p.json()["result"], "hit", p.describe())
        self.assertEqual(find_leftovers(ws), [])
        return snapshot(os.path.join(ws, "target"))


class SameKeyTest(ConcurrencyCase):
    """16 processes save one key at once."""

    N = 16

    def same_key(self, backend, different):
        ref, checker, layout = self.make(backend)
        trees = []
        for i in range(self.N if different else 1):
            ws = os.path.join(self.tmp, f"src-{backend}-{i}")
            small_tree(os.path.join(ws, "target"), self.rng)
            trees.append((ws, snapshot(os.path.join(ws, "target"))))
        jobs = []
        for i in range(self.N):
            ws = trees[i % len(trees)][0]
            home = os.path.join(self.tmp, f"home-{backend}-{i}")
            os.makedirs(home, exist_ok=True)
            jobs.append((["save", "--key", "shared", "target"], ws, home))
        procs = self.run_all(ref, jobs)

        results = [p.json() for p in procs]
        odd = [(p, r) for p, r in zip(procs, results) if r.get("result") not in ("saved", "exists")]
        self.assertEqual(odd, [], "every process reports saved or exists")
        counts = {r["result"]: sum(1 for x in results if x["result"] == r["result"]) for r in results}
        print(f"  {self.id()} {backend} different={different}: {counts}", file=sys.stderr, flush=True)

        tags = self.check(checker, f"{backend}, {self.N} saves of one key")
        self.assertEqual(sorted(tags), ["shared"], "exactly one entry, under the key")
        winners = [i for i, r in enumerate(results) if r["result"] == "saved" and r["digest"] == tags["shared"]]
        self.assertTrue(winners, f"the stored manifest {tags['shared']} is none of the saved ones: {results}")
        expected = trees[winners[0] % len(trees)][1]
        got = self.restore_into(ref, "shared", f"restore-{backend}-{different}")
        if got != expected:
            self.fail(f"seed {SEED}: the restored tree is not the winner's:\n{diff_snapshots(expected, got)}")
        if layout:
            self.assertEqual(layout_strays(layout), [], "stray files in the layout")
        self.assertEqual(temp_names(self.tmpdir), [], "temporary files left in TMPDIR")

    def test_same_content_layout(self):
        self.same_key("layout", different=False)

    def test_same_content_registry(self):
        self.same_key("open", different=False)

    def test_different_content_layout(self):
        self.same_key("layout", different=True)

    def test_different_content_registry(self):
        self.same_key("open", different=True)


class ManyKeysLayoutTest(ConcurrencyCase):
    """8 writers, 8 different keys, one layout, several rounds at once."""

    WRITERS, ROUNDS = 8, 3

    def test_many_writers_many_keys(self):
        ref, checker, layout = self.make("layout")
        srcs = []
        for w in range(self.WRITERS):
            ws = os.path.join(self.tmp, f"src-{w}")
            small_tree(os.path.join(ws, "target"), self.rng)
            srcs.append(ws)
        want = set()
        for r in range(self.ROUNDS + 1):
            force = r == self.ROUNDS  # the last round replaces the first round's keys
            jobs = []
            for w, ws in enumerate(srcs):
                churn_tree(os.path.join(ws, "target"), self.rng)
                key = f"w{w}-r{0 if force else r}"
                want.add(key)
                jobs.append((["save", "--key", key, "target"] + (["--force"] if force else []), ws, self.home))
            procs = self.run_all(ref, jobs)
            self.assertEqual({p.json()["result"] for p in procs}, {"saved"}, f"round {r}")
            with open(os.path.join(layout, "index.json"), "rb") as f:
                json.loads(f.read())  # valid JSON (check() says more when it is not)
            tags = self.check(checker, f"round {r}")
            self.assertEqual(set(tags), want, f"round {r}: index.json holds every key saved so far, once")
            if force:
                for w, p in enumerate(procs):
                    self.assertEqual(tags[f"w{w}-r0"], p.json()["digest"], "--force replaced the entry")
        for w, ws in enumerate(srcs[:3]):
            got = self.restore_into(ref, f"w{w}-r0", f"restore-{w}")
            self.assertTreeEqual(snapshot(os.path.join(ws, "target")), got, f"w{w}-r0")
        self.assertEqual(layout_strays(layout), [], "stray files in the layout")


class ConcurrentRestoreTest(ConcurrencyCase):
    """8 restores of one entry at once, into 8 destinations, sharing one state file."""

    N = 8

    def restores(self, backend):
        ref, checker, layout = self.make(backend)
        src = os.path.join(self.tmp, "src")
        small_tree(os.path.join(src, "target"), self.rng)
        expected = snapshot(os.path.join(src, "target"))
        self.run_all(ref, [(["save", "--key", "one", "target"], src, self.home)])
        dests = [os.path.join(self.tmp, f"dest-{backend}-{i}") for i in range(self.N)]
        for d in dests:
            os.makedirs(d)
        procs = self.run_all(ref, [(["restore", "--key", "one"], d, self.home) for d in dests])
        for d, p in zip(dests, procs):
            self.assertEqual(p.json()["result"], "hit", p.describe())
            got = snapshot(os.path.join(d, "target"))
            if got != expected:
                self.fail(f"{d}: restored tree differs:\n{diff_snapshots(expected, got)}\n{p.describe()}")
            self.assertEqual(find_leftovers(d), [], d)
        state_dir = os.path.join(self.home, ".local", "state", "regcache")
        with open(os.path.join(state_dir, "restored.json"), "rb") as f:
            state = json.loads(f.read())
        self.assertEqual(len(state), 1, state)
        self.assertEqual(temp_names(state_dir), [], "temporary files next to the state file")
        self.check(checker, f"{backend} after concurrent restores")
        if layout:
            self.assertEqual(layout_strays(layout), [], "stray files in the layout")

    def test_restores_layout(self):
        self.restores("layout")

    def test_restores_registry(self):
        self.restores("open")


if __name__ == "__main__":
    import unittest
    unittest.main()
