"""Fault injection (issue 6): regcache saves and restores through tests/harness/fault_proxy.py
in front of the open registry while the proxy cuts, stalls, truncates, corrupts, refuses
and redirects requests.

test_sweep runs every case of fault_cases.py (over 200): transient faults must end in
success with exactly the saved bytes, permanent ones in a clean one-line error with the
destination unchanged, and after every save each tag of the repository must point at
blobs that exist and match their digests. It prints a summary table, and writes it as
JSON to $FAULT_REPORT when set (docs/reliability.md is filled from it). The other tests
check one behaviour each: Range resume, upload restart, stall timeout, the restore
--timeout budget and redirects that must not carry Authorization.
"""

import concurrent.futures
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from collections import defaultdict

from common import (BIN, RegistryClient, find_leftovers, parse_json, run, services, snapshot, diff_snapshots,
                    set_dir_mtimes)
from fault_cases import build_cases

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from fault_proxy import FaultProxy  # noqa: E402

BASE_ENV = {"REGCACHE_PACK_SIZE": "65536", "REGCACHE_RETRY_DELAY_MS": "10", "REGCACHE_STALL_TIMEOUT": "2"}
WORKERS = 4
CRASH_MARKERS = ("Traceback", "terminate called", "Aborted", "core dumped", "AddressSanitizer",
                 "runtime error:", "Segmentation fault", "what():")
BIG = 300_000


def make_source_tree(root):
    """Three 300 KB random files (each its own layer) and 24 small ones (a few packs)."""
    os.makedirs(os.path.join(root, "sub", "deeper"))
    for i in range(3):
        with open(os.path.join(root, f"big{i}.bin"), "wb") as f:
            f.write(os.urandom(BIG))
    for i in range(24):
        with open(os.path.join(root, "sub" if i % 2 else "sub/deeper", f"s{i:02d}.bin"), "wb") as f:
            f.write(os.urandom(5000 + i * 97))
    set_dir_mtimes(root)


def prepare_destination(ws):
    """An existing destination: a file the cache does not hold and a stale cached file."""
    dest = os.path.join(ws, "t")
    os.makedirs(dest)
    with open(os.path.join(dest, "keep.txt"), "w") as f:
        f.write("not from the cache\n")
    with open(os.path.join(dest, "big0.bin"), "w") as f:
        f.write("stale\n")
    return dest


def check_store(host, repo):
    """Problems with any tag of the repository: manifest unreadable, a blob missing, or a
    blob whose bytes do not match its descriptor."""
    client = RegistryClient(host, repo)
    problems = []
    for tag in client.tags():
        try:
            m = json.loads(client.get_manifest(tag) or b"null")
            if not m:
                problems.append(f"tag {tag}: manifest missing")
                continue
            for d in [m["config"]] + m["layers"]:
                if not client.has_blob(d["digest"]):
                    problems.append(f"tag {tag}: blob {d['digest'][:19]} missing (HEAD)")
                    continue
                data = client.get_blob(d["digest"])
                if "sha256:" + hashlib.sha256(data).hexdigest() != d["digest"] or len(data) != d["size"]:
                    problems.append(f"tag {tag}: blob {d['digest'][:19]} does not match its descriptor")
        except (AssertionError, ValueError, KeyError) as e:
            problems.append(f"tag {tag}: {e}")
    return problems


def failure_problem(rc, err):
    """None if (rc, stderr) is a clean failure: exit 1, every stderr line a `regcache:` line."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if rc != 1:
        return f"exit {rc}, expected 1"
    if not lines:
        return "nothing on stderr"
    stray = [ln for ln in lines if not ln.startswith("regcache:")]
    if stray:
        return f"stderr line not starting with 'regcache:': {stray[0][:120]!r}"
    return None


def last_line(text):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    ln = lines[-1] if lines else ""
    return ln if len(ln) <= 240 else ln[:90] + " … " + ln[-150:]


class FaultTestBase(unittest.TestCase):
    """One source tree and one saved entry (in the open registry) shared by every test."""

    @classmethod
    def setUpClass(cls):
        s = services()
        cls.upstream = s["REG_OPEN"]
        cls.root = tempfile.mkdtemp(prefix="regcache-faults-")
        cls.src_ws = os.path.join(cls.root, "src")
        make_source_tree(os.path.join(cls.src_ws, "t"))
        cls.src_snap = snapshot(os.path.join(cls.src_ws, "t"))
        cls.restore_repo = "faults/" + uuid.uuid4().hex
        cls.call(["--store", f"{cls.upstream}/{cls.restore_repo}", "--json", "save", "--key", "k1", "t"],
                 cls.src_ws, check=True)
        m = json.loads(RegistryClient(cls.upstream, cls.restore_repo).get_manifest("k1"))
        layers = sorted(m["layers"], key=lambda d: d["size"])
        cls.big_digest, cls.small_digest = layers[-1]["digest"], layers[0]["digest"]
        cls.medium_digest = layers[len(layers) // 2]["digest"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    @classmethod
    def call(cls, args, cwd, env=None, check=None, timeout=60):
        """Runs regcache with BASE_ENV (+ env), a fresh HOME and TMPDIR; (rc, out, err, secs)."""
        d = tempfile.mkdtemp(dir=cls.root, prefix="run-")
        os.makedirs(os.path.join(d, "tmp"))
        t0 = time.monotonic()
        rc, out, err = run(args, env_extra={**BASE_ENV, **(env or {})}, cwd=cwd, home=d,
                           tmpdir=os.path.join(d, "tmp"), check=check, timeout=timeout)
        return rc, out, err, time.monotonic() - t0

    def new_ws(self):
        ws = tempfile.mkdtemp(dir=self.root, prefix="ws-")
        return ws

    def restore_through(self, proxy, ws, *extra, env=None, key="k1", repo=None, timeout=60):
        return self.call(["--store", f"{proxy.address}/{repo or self.restore_repo}", "--json", "restore",
                          "--key", key, *extra], ws, env=env, timeout=timeout)

    def assertRestoredExactly(self, ws, rc, out, err):
        self.assertEqual(rc, 0, err)
        self.assertIn(parse_json(out)["result"], ("hit", "partial"), out)
        got = snapshot(os.path.join(ws, "t"), exclude=("keep.txt",))
        if got != self.src_snap:
            self.fail("WRONG BYTES restored:\n" + diff_snapshots(self.src_snap, got))


class FaultSweepTest(FaultTestBase):
    report = None

    def run_case(self, case):
        """Runs one case; returns a result dict with the problems found (empty: passed)."""
        ws = self.new_ws()
        proxy = FaultProxy(self.upstream).start()
        res = {"case": case.name, "expect": case.expect, "kind": case.kind, "target": case.target,
               "problems": [], "wrong_bytes": False, "dangling": 0}
        problems = res["problems"]
        try:
            proxy.set_rules(case.rules)
            if case.op == "save":
                repo = "faults/" + uuid.uuid4().hex
                args = ["--store", f"{proxy.address}/{repo}", "--json", "save", "--key", "k1", "t"]
                cwd = self.src_ws
            else:
                dest = prepare_destination(ws)
                before = snapshot(dest)
                key = ["--key", "absent", "--restore-key", "k"] if case.restore_key else ["--key", "k1"]
                args = ["--store", f"{proxy.address}/{self.restore_repo}", "--json", "restore", *key]
                cwd = ws
            try:
                rc, out, err, secs = self.call(args, cwd, env=case.env, timeout=60)
            except subprocess.TimeoutExpired:  # a held stall waited out, or a hang
                rc, out, err, secs = None, "", "", 60.0
                problems.append("hung: killed after 60 s")
        finally:
            proxy.stop()
        log = proxy.log
        res.update(rc=rc, seconds=round(secs, 2), stderr=last_line(err),
                   injected=sum(1 for e in log if e.get("action") and e["action"] != "ignore_range"),
                   ranges=sum(1 for e in log if e.get("range")),
                   ranges_206=sum(1 for e in log if e.get("range") and e.get("status") == 206))
        if rc is None:
            return res
        if res["injected"] == 0:
            problems.append("the fault never fired")
        if any(m in err for m in CRASH_MARKERS):
            problems.append("crash marker on stderr: " + last_line(err))
        if rc == 0:
            if case.expect == "permanent":
                problems.append("succeeded despite a permanent fault")
        else:
            why = failure_problem(rc, err)
            if why:
                problems.append("unclean failure: " + why)
            if case.expect == "transient":
                problems.append("failed on a transient fault: " + last_line(err))
        if case.op == "save":
            self.check_save(res, repo, rc, out)
        else:
            self.check_restore(res, ws, dest, before, rc, out)
        return res

    def check_save(self, res, repo, rc, out):
        problems = res["problems"]
        store_problems = check_store(self.upstream, repo)
        res["dangling"] = len(store_problems)
        problems += ["store: " + p for p in store_problems]
        tags = RegistryClient(self.upstream, repo).tags()
        if rc != 0:
            if tags:
                problems.append(f"a failed save left tags {tags}")
            return
        if parse_json(out).get("result") != "saved":
            problems.append(f"save result {out.strip()}")
        # a later restore, straight from the registry, gives exactly the saved bytes
        ws = self.new_ws()
        rc2, out2, err2, _ = self.call(["--store", f"{self.upstream}/{repo}", "--json", "restore", "--key",
                                        "k1"], ws)
        if rc2 != 0 or parse_json(out2).get("result") != "hit":
            problems.append("restore after the save: " + (last_line(err2) or out2.strip()))
        elif snapshot(os.path.join(ws, "t")) != self.src_snap:
            res["wrong_bytes"] = True
            problems.append("WRONG BYTES restored after the save")

    def check_restore(self, res, ws, dest, before, rc, out):
        problems = res["problems"]
        result = parse_json(out).get("result") if rc == 0 and out.strip() else None
        if rc == 0 and result in ("hit", "partial"):
            got = snapshot(dest, exclude=("keep.txt",))
            if got != self.src_snap:
                res["wrong_bytes"] = True
                problems.append("WRONG BYTES restored: " + diff_snapshots(self.src_snap, got)[:300])
            if not os.path.exists(os.path.join(dest, "keep.txt")):
                problems.append("keep.txt vanished")
        else:
            if rc == 0:
                problems.append(f"restore result {result!r}")
            if snapshot(dest) != before:
                problems.append("the destination changed although nothing was restored")
        left = find_leftovers(ws)
        if left:
            problems.append(f"leftovers {left[:3]}")

    def test_sweep(self):
        cases = build_cases(self.big_digest, self.medium_digest, self.small_digest)
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(self.run_case, cases))
        report = summarize(results, time.monotonic() - t0)
        FaultSweepTest.report = report
        print_report(report)
        if os.environ.get("FAULT_REPORT"):
            with open(os.environ["FAULT_REPORT"], "w", encoding="utf-8") as f:
                json.dump(report, f, indent=1)
        self.assertGreaterEqual(len(cases), 200)
        for r in results:
            with self.subTest(case=r["case"]):
                if r["problems"]:
                    self.fail("; ".join(r["problems"]) + f" [exit {r['rc']}, {r['seconds']} s]")


class FaultBehaviourTest(FaultTestBase):
    """One behaviour per test, with the proxy's log as the evidence."""

    def proxy(self, upstream=None, **kw):
        p = FaultProxy(upstream or self.upstream, **kw).start()
        self.addCleanup(p.stop)
        return p

    def test_download_resumes_with_range(self):
        proxy = self.proxy()
        big = "/blobs/" + self.big_digest
        proxy.set_rules([{"method": "GET", "path": big, "nth": 1, "action": "reset_mid_body", "after": 150_000}])
        ws = self.new_ws()
        rc, out, err, _ = self.restore_through(proxy, ws)
        self.assertRestoredExactly(ws, rc, out, err)
        ranged = [e for e in proxy.log if big in e["path"] and e["range"]]
        self.assertTrue(ranged, "no Range request after the cut")
        self.assertRegex(ranged[0]["range"], r"^bytes=[1-9][0-9]*-$")
        self.assertEqual(ranged[0]["status"], 206, "the registry honours Range")

    def test_resume_when_the_server_ignores_range(self):
        proxy = self.proxy()
        big = "/blobs/" + self.big_digest
        proxy.set_rules([{"method": "GET", "path": big, "nth": 1, "action": "truncate", "after": 150_000},
                         {"method": "GET", "path": big, "range": True, "always": True, "action": "ignore_range"}])
        ws = self.new_ws()
        rc, out, err, _ = self.restore_through(proxy, ws)
        self.assertRestoredExactly(ws, rc, out, err)
        ranged = [e for e in proxy.log if big in e["path"] and e["range"]]
        self.assertTrue(ranged, "no Range request after the cut")
        self.assertEqual(ranged[0]["status"], 200)

    def test_upload_restarts_the_blob_with_a_new_post(self):
        for label, action in (("session lost (404)", {"action": "status", "status": 404}),
                              ("answer cut after the registry stored it", {"action": "reset_mid_body"})):
            with self.subTest(label):
                proxy = self.proxy()
                proxy.set_rules([{"method": "PUT", "path": r"/blobs/uploads/.", "nth": 1, **action}])
                repo = "faults/" + uuid.uuid4().hex
                rc, out, err, _ = self.call(["--store", f"{proxy.address}/{repo}", "--json", "save", "--key", "k1",
                                             "t"], self.src_ws)
                self.assertEqual(rc, 0, err)
                log = proxy.log
                failed = next(e for e in log if e["action"])
                session, _, query = failed["path"].partition("?")
                digest = [q for q in query.split("&") if q.startswith("digest=")][0]
                later = [e for e in log if e["seq"] > failed["seq"]]
                retried = [e for e in later if e["method"] == "PUT" and digest in e["path"]
                           and not e["path"].startswith(session + "?")]
                headed = [e for e in later if e["method"] == "HEAD" and digest.split("=")[1] in e["path"]
                          and e["status"] == 200]
                self.assertTrue(any(e["status"] in (201, 204) for e in retried) or headed,
                                "the blob was neither uploaded again in a new session nor found by HEAD")
                self.assertTrue(any(e["method"] == "POST" for e in later) or headed, "no new POST")
                self.assertEqual(check_store(self.upstream, repo), [])
                ws = self.new_ws()
                rc, out, err, _ = self.call(["--store", f"{self.upstream}/{repo}", "--json", "restore", "--key",
                                             "k1"], ws)
                self.assertRestoredExactly(ws, rc, out, err)

    def test_a_stalled_download_is_retried(self):
        proxy = self.proxy()
        big = "/blobs/" + self.big_digest
        # The stall lasts until the proxy stops, after the restore: finishing at all shows that
        # REGCACHE_STALL_TIMEOUT=2 ended the stalled transfer (a restore waiting it out would
        # be killed by the call's timeout).
        proxy.set_rules([{"method": "GET", "path": big, "nth": 1, "action": "stall", "where": "body",
                          "seconds": 3600}])
        ws = self.new_ws()
        rc, out, err, _ = self.restore_through(proxy, ws)
        self.assertRestoredExactly(ws, rc, out, err)
        self.assertGreaterEqual(sum(1 for e in proxy.log if big in e["path"]), 2)

    def test_restore_timeout_reports_a_miss(self):
        stalls = {"blob GET stalls mid-body": {"method": "GET", "path": "/blobs/", "where": "body"},
                  "manifest GET never answers": {"method": "GET", "path": "/manifests/", "where": "headers"}}
        cases = [(label, rule, extra, want_rc) for label, rule in stalls.items()
                 for extra, want_rc in (((), 0), (("--fail-on-miss",), 3))]

        def run_case(case):
            _, rule, extra, _ = case
            proxy = self.proxy()
            proxy.set_rules([{**rule, "always": True, "action": "stall", "seconds": 3600}])
            ws = self.new_ws()
            dest = prepare_destination(ws)
            before = snapshot(dest)
            # The stall outlasts the call's timeout: a result at all shows that --timeout cut
            # the restore.
            rc, out, err, _ = self.restore_through(proxy, ws, "--timeout", "4", *extra, timeout=60)
            return ws, dest, before, rc, out, err

        # The four restores wait out their budgets side by side.
        with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
            results = list(pool.map(run_case, cases))
        for (label, _, extra, want_rc), (ws, dest, before, rc, out, err) in zip(cases, results):
            with self.subTest(label, flags=extra):
                self.assertEqual(rc, want_rc, err)
                self.assertEqual(parse_json(out)["result"], "miss")
                self.assertTrue(err.startswith("regcache:"), err)
                self.assertFalse(any(m in err for m in CRASH_MARKERS), err)
                self.assertEqual(snapshot(dest), before, "the destination changed")
                self.assertEqual(find_leftovers(ws), [])

    def test_redirect_does_not_carry_authorization(self):
        s = services()
        host, user, password = s["REG_TOKEN"], s["REG_TOKEN_USER"], s["REG_TOKEN_PASSWORD"]
        creds = {"REGCACHE_USERNAME": user, "REGCACHE_PASSWORD": password}
        repo = "faults/" + uuid.uuid4().hex
        self.call(["--store", f"{host}/{repo}", "--json", "save", "--key", "k1", "t"], self.src_ws, env=creds,
                  check=True)
        # The redirect target stands for a presigned blob URL: it needs no Authorization from
        # the client, so it brings its own to the registry behind it.
        client = RegistryClient(host, repo, "http", user, password)
        client.get_manifest("k1")
        target = self.proxy(host, upstream_headers={"Authorization": client.auth_header})
        front = self.proxy(host)
        front.set_rules([{"method": "GET", "path": "/blobs/", "always": True, "action": "redirect",
                          "target": target.address}])
        ws = self.new_ws()
        rc, out, err, _ = self.call(["--store", f"{front.address}/{repo}", "--json", "restore", "--key", "k1"], ws,
                                    env=creds)
        self.assertRestoredExactly(ws, rc, out, err)
        self.assertTrue(any(e.get("auth") for e in front.log), "regcache never authenticated to the registry")
        got = [e for e in target.log if e["method"]]
        self.assertTrue(got, "the redirect was not followed")
        self.assertEqual([e["path"] for e in got if e["auth"]], [], "Authorization reached the other port")
        self.assertNotIn(password, out + err)


def summarize(results, seconds):
    def table(key):
        rows = defaultdict(lambda: {"cases": 0, "injected": 0, "passed": 0, "failed": 0})
        for r in results:
            row = rows[r[key]]
            row["cases"] += 1
            row["injected"] += r.get("injected", 0)
            row["passed" if not r["problems"] else "failed"] += 1
        return dict(rows)

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "binary": BIN,
        "seconds": round(seconds, 1),
        "cases": len(results),
        "injected": sum(r.get("injected", 0) for r in results),
        "passed": sum(1 for r in results if not r["problems"]),
        "wrong_bytes": sum(1 for r in results if r["wrong_bytes"]),
        "dangling_tags": sum(r["dangling"] for r in results),
        "range_requests": sum(r.get("ranges", 0) for r in results),
        "range_206": sum(r.get("ranges_206", 0) for r in results),
        "by_class": table("expect"),
        "by_kind": table("kind"),
        "by_target": table("target"),
        "slowest": sorted(([r.get("seconds") or 0, r["case"]] for r in results), reverse=True)[:12],
        "failures": [{"case": r["case"], "rc": r.get("rc"), "seconds": r.get("seconds"),
                      "problems": r["problems"], "stderr": r.get("stderr")} for r in results if r["problems"]],
    }


def print_report(rep):
    out = [f"\nfault sweep: {rep['cases']} cases, {rep['injected']} faults injected, {rep['passed']} passed, "
           f"{rep['seconds']} s ({rep['machine']})"]
    for title, key in (("class", "by_class"), ("fault", "by_kind"), ("request", "by_target")):
        out.append(f"{title:<34} {'cases':>6} {'faults':>7} {'passed':>7} {'failed':>7}")
        for name, row in sorted(rep[key].items()):
            out.append(f"{name:<34} {row['cases']:>6} {row['injected']:>7} {row['passed']:>7} {row['failed']:>7}")
    out.append(f"wrong bytes restored: {rep['wrong_bytes']}; dangling or broken tags: {rep['dangling_tags']}; "
               f"Range requests: {rep['range_requests']} ({rep['range_206']} answered 206)")
    print("\n".join(out), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
