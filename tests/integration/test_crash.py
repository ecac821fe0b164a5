"""Crash tests (issue 6): regcache is SIGKILLed at random moments of a save or a restore,
on a local OCI layout and on the open registry, and the store and the destination must
stay consistent.

After a killed save: every tagged entry in the store is complete (manifest, config and
layers present and matching their digests); a restore of the key misses or gives exactly
the saved tree; after the loop a normal save succeeds and leaves no temporary files.
After a killed restore: the destination is unchanged (absent, or its prior content with a
sentinel file) or exactly the complete entry (merged with the prior content), never a
mix; the next restore succeeds and no `.regcache-stage-*` directory or temporary file is
left behind.

Kill moments are uniform within the measured duration of an unkilled run. The seed is
printed; set REGCACHE_CRASH_SEED to replay a run and REGCACHE_CRASH_RUNS to change the
number of kills per test (default 50).
"""

import os
import random
import shutil
import statistics
import sys
import time
import uuid

from common import RegcacheTestCase, diff_snapshots, find_leftovers, services, snapshot
from reliability import LayoutChecker, Procs, RegistryChecker, churn_tree, layout_strays, make_crash_tree, \
    temp_names

SEED = int(os.environ.get("REGCACHE_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
RUNS = int(os.environ.get("REGCACHE_CRASH_RUNS") or 50)
ENV = {"REGCACHE_PACK_SIZE": "262144", "REGCACHE_JOBS": "2"}
TREE = {"small": 200, "big": 2, "big_size": 768 * 1024}  # ~2.3 MiB, ~8 layers: ~100-300 ms a run


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def mix_summary(now, before, complete):
    """Counts the destination's entries that are the prior version, the cached version or
    neither, and the cached ones still missing."""
    prior = sum(1 for k, v in now.items() if before.get(k) == v and complete.get(k) != v)
    cached = sum(1 for k, v in now.items() if complete.get(k) == v and before.get(k) != v)
    other = sum(1 for k, v in now.items() if v not in (before.get(k), complete.get(k)))
    missing = sum(1 for k in complete if k not in now)
    return (f"{cached} entries already the cached version, {prior} still the prior version, "
            f"{other} neither, {missing} cached entries missing")


class CrashCase(RegcacheTestCase):
    """A store of the backend under test, a process list, and a seeded RNG per test."""

    backend = None

    @classmethod
    def setUpClass(cls):
        log(f"\n{cls.__name__}: REGCACHE_CRASH_SEED={SEED} REGCACHE_CRASH_RUNS={RUNS}")

    def setUp(self):
        super().setUp()
        self.procs = Procs()
        self.addCleanup(self.procs.cleanup)
        self.rng = random.Random(f"{SEED}-{self.id()}")
        self.t0 = time.monotonic()
        if self.backend == "layout":
            self.layout = os.path.join(self.tmp, "layout")
            self.ref = "oci:" + self.layout
            self.checker = LayoutChecker(self.layout)
        else:
            host = services()["REG_OPEN"]
            self.layout = None
            self.ref = f"{host}/crash/{uuid.uuid4().hex}"
            self.checker = RegistryChecker(host, self.ref.split("/", 1)[1])

    # -- running regcache ------------------------------------------------------------

    def start(self, *args, cwd, home):
        return self.procs.start(["--store", self.ref, "--json", *args], home=home, cwd=cwd,
                                tmpdir=self.tmpdir, env=ENV)

    def run_ok(self, *args, cwd, home, ctx=""):
        p = self.start(*args, cwd=cwd, home=home)
        p.wait()
        if p.rc != 0:
            self.fail(f"{ctx}\n{p.describe()}")
        return p

    def run_killed(self, delay, *args, cwd, home):
        """Starts regcache, SIGKILLs it after `delay` seconds unless it finished; returns
        (proc, killed)."""
        p = self.start(*args, cwd=cwd, home=home)
        deadline = p.started + delay
        while time.monotonic() < deadline and p.popen.poll() is None:
            time.sleep(min(0.002, max(0.0, deadline - time.monotonic())))
        killed = p.popen.poll() is None
        p.kill()
        p.wait()
        return p, killed

    def calibrate(self, make_args, cwd, home):
        """Median wall time of three unkilled runs (make_args(i) gives each one's args)."""
        times = []
        for i in range(3):
            times.append(self.run_ok(*make_args(i), cwd=cwd(i), home=home, ctx="calibration run").seconds)
        median = statistics.median(times)
        log(f"  {self.id()}: unkilled run takes {median * 1000:.0f} ms "
            f"({', '.join(f'{t * 1000:.0f}' for t in times)})")
        return median

    def check_store(self, ctx):
        try:
            return self.checker.check()
        except AssertionError as e:
            self.fail(f"{ctx}: the store is inconsistent: {e}")

    def assertNoStrays(self, ctx):
        """No temporary files in the layout (if any) and in TMPDIR."""
        if self.layout:
            self.assertEqual(layout_strays(self.layout), [], f"{ctx}: stray files in the layout {self.layout}")
        self.assertEqual(temp_names(self.tmpdir), [], f"{ctx}: temporary files left in TMPDIR")


class KilledSaveMixin:
    def test_killed_save(self):
        src_ws, tree = self.ws, os.path.join(self.ws, "target")
        make_crash_tree(tree, self.rng, **TREE)
        check_home = os.path.join(self.tmp, "check-home")
        os.makedirs(check_home)

        def fresh_tree(i):
            churn_tree(tree, self.rng)
            return src_ws

        duration = self.calibrate(lambda i: ("save", "--key", f"cal-{i}", "target"), fresh_tree, self.home)
        last_saved, outcomes = "cal-2", {"killed-miss": 0, "killed-hit": 0, "completed": 0}
        for i in range(RUNS):
            churn_tree(tree, self.rng)
            expected = snapshot(tree)
            key = f"crash-{i}"
            args = ["save", "--key", key, "target"]
            if self.rng.random() < 0.5:
                args += ["--base", last_saved]  # reused layers point at earlier entries' blobs
            delay = self.rng.uniform(0, duration)
            p, killed = self.run_killed(delay, *args, cwd=src_ws, home=self.home)
            ctx = f"seed {SEED}, run {i}, save killed after {delay * 1000:.1f} ms (killed={killed})"
            if not killed:
                self.assertEqual(p.rc, 0, f"{ctx}: an unkilled save failed\n{p.describe()}")
                self.assertEqual(p.json()["result"], "saved", ctx)
            tags = self.check_store(ctx)

            # A restore of the key misses or gives exactly the saved tree.
            check_ws = os.path.join(self.tmp, f"check-{i}")
            os.makedirs(check_ws)
            r = self.run_ok("restore", "--key", key, cwd=check_ws, home=check_home, ctx=f"{ctx}: restore")
            result = r.json()["result"]
            if result == "hit":
                if key not in tags and self.layout is None:
                    # The registry may still have been storing the killed run's manifest PUT
                    # when the store was checked: check again.
                    tags = self.check_store(ctx + " (second check)")
                self.assertIn(key, tags, f"{ctx}: restore hit a key the store check did not see")
                got = snapshot(os.path.join(check_ws, "target"))
                if got != expected:
                    self.fail(f"{ctx}: the restored tree differs from the saved one:\n"
                              f"{diff_snapshots(expected, got)}")
                last_saved = key
            else:
                self.assertEqual(result, "miss", f"{ctx}\n{r.describe()}")
                self.assertNotIn(key, tags, f"{ctx}: the key is tagged but restore missed")
                self.assertTrue(killed, f"{ctx}: a save that completed is not found")
            self.assertEqual(find_leftovers(check_ws), [], ctx)
            shutil.rmtree(check_ws)
            outcomes["completed" if not killed else "killed-" + result] += 1

        log(f"  {self.id()}: {outcomes} in {time.monotonic() - self.t0:.1f} s")
        ctx = f"seed {SEED}, the save after {RUNS} killed saves"
        churn_tree(tree, self.rng)
        expected = snapshot(tree)
        s = self.run_ok("save", "--key", "after", "target", cwd=src_ws, home=self.home, ctx=ctx)
        self.assertEqual(s.json()["result"], "saved", ctx)
        self.assertIn("after", self.check_store(ctx))
        self.assertNoStrays(ctx)
        check_ws = os.path.join(self.tmp, "check-after")
        os.makedirs(check_ws)
        r = self.run_ok("restore", "--key", "after", cwd=check_ws, home=check_home, ctx=ctx)
        self.assertEqual(r.json()["result"], "hit", ctx)
        self.assertTreeEqual(expected, snapshot(os.path.join(check_ws, "target")), ctx)


class KilledRestoreMixin:
    def make_prior(self, dest):
        """Prior content: a sentinel, a file the entry also holds (older content) and a
        directory the entry does not hold."""
        os.makedirs(os.path.join(dest, "d00"))
        os.makedirs(os.path.join(dest, "prior-only"))
        for rel, data in (("SENTINEL.txt", b"must survive\n"), ("d00/f0000.txt", b"old content\n"),
                          ("prior-only/x.txt", b"x\n")):
            with open(os.path.join(dest, rel), "wb") as f:
                f.write(data)
        for n, rel in enumerate(("SENTINEL.txt", "d00/f0000.txt", "prior-only/x.txt", "prior-only", "d00", ".")):
            ns = 1_500_000_000_000_000_000 + n * 1_000_000_001
            os.utime(os.path.join(dest, rel), ns=(ns, ns))
        return snapshot(dest)

    def test_killed_restore(self):
        src_ws = os.path.join(self.tmp, "src")
        make_crash_tree(os.path.join(src_ws, "target"), self.rng, **TREE)
        source = snapshot(os.path.join(src_ws, "target"))
        self.run_ok("save", "--key", "entry", "target", cwd=src_ws, home=self.home, ctx="the initial save")
        dest = os.path.join(self.ws, "target")
        state_dir = os.path.join(self.home, ".local", "state", "regcache")

        # A complete restore onto prior content merges: cached files win, others stay.
        prior = self.make_prior(dest)
        merged = {**{k: v for k, v in prior.items() if k not in source}, **source}
        self.run_ok("restore", "--key", "entry", cwd=self.ws, home=self.home, ctx="restore onto prior content")
        self.assertTreeEqual(merged, snapshot(dest), "restore onto prior content")

        def clear(i):
            shutil.rmtree(dest, ignore_errors=True)
            return self.ws

        duration = self.calibrate(lambda i: ("restore", "--key", "entry"), clear, self.home)
        outcomes = {}
        for i in range(RUNS):
            shutil.rmtree(dest, ignore_errors=True)
            mode = self.rng.choice(("absent", "prior"))
            before = self.make_prior(dest) if mode == "prior" else None
            complete = merged if mode == "prior" else source
            delay = self.rng.uniform(0, duration)
            p, killed = self.run_killed(delay, "restore", "--key", "entry", cwd=self.ws, home=self.home)
            ctx = f"seed {SEED}, run {i}, restore onto {mode} destination killed after {delay * 1000:.1f} ms"
            if not killed:
                self.assertEqual(p.rc, 0, f"{ctx}: an unkilled restore failed\n{p.describe()}")

            # Only the destination and staging directories may be in the workspace.
            others = [n for n in os.listdir(self.ws) if n != "target" and not n.startswith(".regcache-stage-")]
            self.assertEqual(others, [], f"{ctx}: unexpected files in the workspace")
            now = snapshot(dest) if os.path.lexists(dest) else None
            if now == complete:
                outcome = "complete"
            elif now == before:
                outcome = "unchanged"
            else:
                self.fail(f"{ctx}: the destination is neither unchanged nor the complete entry: "
                          f"{mix_summary(now or {}, before or {}, complete)}\n"
                          f"against the complete entry:\n{diff_snapshots(complete, now or {})}")
            if not killed:
                self.assertEqual(outcome, "complete", ctx)
            key = f"{mode}-{outcome}" + ("" if killed else "-completed")
            outcomes[key] = outcomes.get(key, 0) + 1

            # The next restore succeeds, completes the destination and cleans up.
            r = self.run_ok("restore", "--key", "entry", cwd=self.ws, home=self.home, ctx=f"{ctx}: next restore")
            self.assertEqual(r.json()["result"], "hit", ctx)
            self.assertTreeEqual(complete, snapshot(dest), f"{ctx}: after the next restore")
            self.assertEqual(find_leftovers(self.ws), [], f"{ctx}: staging left after the next restore")
            self.assertEqual([n for n in temp_names(state_dir) if n != "restored.json"], [],
                             f"{ctx}: temporary files left next to the state file")
            if self.layout:
                self.assertEqual(layout_strays(self.layout), [], f"{ctx}: stray files in the layout")
        log(f"  {self.id()}: {outcomes} in {time.monotonic() - self.t0:.1f} s")
        self.check_store(f"seed {SEED}, after the killed restores")
        self.assertNoStrays(f"seed {SEED}, after the killed restores")


class LayoutCrashTest(KilledSaveMixin, KilledRestoreMixin, CrashCase):
    backend = "layout"


class RegistryCrashTest(KilledSaveMixin, KilledRestoreMixin, CrashCase):
    backend = "open"


if __name__ == "__main__":
    import unittest
    unittest.main()
