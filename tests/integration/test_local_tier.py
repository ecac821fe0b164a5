"""The machine-local tier (--local-cache DIR, docs/usage.md): an OCI layout kept as a blob
cache in front of a registry. A restore whose blobs are all local downloads no blob byte;
a cold tier fills as it downloads; a damaged local copy is fetched again; an unreachable
registry falls back to the newest matching entry kept locally ("source":"local"); several
jobs share one tier at once; --local-cache-max evicts the least recently used blobs."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import unittest

from common import BIN, RegcacheTestCase, clean_env, make_tree, snapshot

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from fault_proxy import FaultProxy  # noqa: E402


def blob_files(tier):
    d = os.path.join(tier, "blobs", "sha256")
    return {n: os.path.getsize(os.path.join(d, n)) for n in os.listdir(d) if len(n) == 64}


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class LocalTierTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        self.st = self.store("open")
        self.tier = os.path.join(self.tmp, "tier")
        self.cache = os.path.join(self.ws, "cache")

    def tree(self, seed):
        shutil.rmtree(self.cache, ignore_errors=True)
        make_tree(self.cache, big=False, seed=seed)
        return snapshot(self.cache)

    def tiered(self, *args, tier=None, env=None, check=True):  # check: as common.run's
        e = dict(self.st.env, REGCACHE_RETRY_DELAY_MS="1")
        e.update(env or {})
        return self.regcache("--store", self.st.ref, "--local-cache", tier or self.tier, "--json", *args,
                             env=e, check=check)

    def restore_json(self, key, *extra, tier=None, env=None):
        shutil.rmtree(self.cache, ignore_errors=True)
        rc, out, err = self.tiered("restore", "--key", key, *extra, "cache", tier=tier, env=env)
        return json.loads(out), err

    def two_kept_entries(self, seed):
        """Saves deps-1 then deps-2 (a day apart) through the tier; returns deps-1's tree,
        deps-2's manifest digest and the blob names only deps-2 holds."""
        expected = self.tree(seed)
        self.tiered("save", "--key", "deps-1", "cache", env={"REGCACHE_NOW": "2024-01-01T00:00:00Z"})
        before = set(blob_files(self.tier))
        self.tree(seed + 1)
        self.tiered("save", "--key", "deps-2", "cache", env={"REGCACHE_NOW": "2024-01-02T00:00:00Z"})
        with open(os.path.join(self.tier, "index.json")) as f:
            digest = next(m["digest"] for m in json.load(f)["manifests"]
                          if m["annotations"]["org.opencontainers.image.ref.name"] == "deps-2")
        with open(os.path.join(self.tier, "blobs", "sha256", digest.split(":")[1])) as f:
            layers = [d["digest"].split(":")[1] for d in json.load(f)["layers"]]
        newer_only = [h for h in layers if h not in before]
        self.assertTrue(newer_only, "the newer entry has layers of its own")
        return expected, digest, newer_only

    def offline(self, *args):
        """Runs regcache with the tier in front of a registry that cannot be reached, into
        an empty cache directory."""
        shutil.rmtree(self.cache, ignore_errors=True)
        dead = f"127.0.0.1:{dead_port()}/{self.st.repo}"
        return self.regcache("--store", dead, "--local-cache", self.tier, "--json", *args,
                             env={"REGCACHE_RETRY_DELAY_MS": "1"}, check=True)

    def test_a_warm_tier_serves_every_blob_and_a_cold_one_fills(self):
        expected = self.tree(1)
        self.tiered("save", "--key", "k1", "cache")
        self.assertTrue(blob_files(self.tier), "the save kept its blobs locally")
        r, _ = self.restore_json("k1")
        self.assertEqual((r["result"], r["source"], r["downloaded_bytes"]), ("hit", "registry", 0))
        self.assertGreater(r["local_bytes"], 0)
        self.assertEqual(snapshot(self.cache), expected)

        cold = os.path.join(self.tmp, "cold")
        r, _ = self.restore_json("k1", tier=cold)
        self.assertGreater(r["downloaded_bytes"], 0)
        self.assertEqual(r["local_bytes"], 0)
        self.assertEqual(snapshot(self.cache), expected)
        empty = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"  # {}, the usage record's config
        self.assertEqual(set(blob_files(cold)), set(blob_files(self.tier)) - {empty},
                         "the restore kept every blob it fetched, and nothing else (no usage record)")
        r, _ = self.restore_json("k1", tier=cold)
        self.assertEqual(r["downloaded_bytes"], 0)
        self.assertEqual(snapshot(self.cache), expected)

    def test_only_a_tier_without_blobs_opens_the_registry_connections_ahead(self):
        # A tier that holds no blob (a new machine's first job) fetches every blob from the
        # registry, so its restore opens the transfers' connections beside the manifest, as
        # a plain restore does: one request for the API root on each extra connection. A
        # tier that holds blobs opens none ahead.
        expected = self.tree(5)
        self.save(self.st, "k5", "cache")  # without a tier
        proxy = FaultProxy(self.st.host).start()
        self.addCleanup(proxy.stop)
        fresh = os.path.join(self.tmp, "fresh")

        def api_roots():
            proxy.reset()
            shutil.rmtree(self.cache, ignore_errors=True)
            rc, out, err = self.regcache("--store", f"{proxy.address}/{self.st.repo}", "--local-cache", fresh,
                                         "--json", "restore", "--key", "k5", "cache",
                                         env=dict(self.st.env, REGCACHE_JOBS="4"), check=True)
            r = json.loads(out)
            self.assertEqual(r["result"], "hit", err)
            self.assertEqual(snapshot(self.cache), expected)
            return sum(1 for e in proxy.log if e["method"] == "GET" and e["path"] == "/v2/"), r

        empty, r = api_roots()
        self.assertGreater(r["downloaded_bytes"], 0)
        warm, r = api_roots()  # the first restore filled the tier
        self.assertEqual(r["downloaded_bytes"], 0)
        self.assertEqual(empty - warm, 3, "REGCACHE_JOBS=4: three connections opened ahead, only with no blobs")

    def test_a_damaged_local_blob_is_fetched_again(self):
        expected = self.tree(2)
        self.tiered("save", "--key", "k2", "cache")
        blobs = blob_files(self.tier)
        victim = max(blobs, key=blobs.get)
        path = os.path.join(self.tier, "blobs", "sha256", victim)
        with open(path, "r+b") as f:
            f.write(b"\0" * 16)
        r, err = self.restore_json("k2")
        self.assertEqual(r["result"], "hit")
        self.assertEqual(r["downloaded_bytes"], blobs[victim], err)
        self.assertIn("is damaged", err)
        self.assertEqual(snapshot(self.cache), expected)
        r, _ = self.restore_json("k2")
        self.assertEqual(r["downloaded_bytes"], 0, "the good copy replaced the damaged one")

    def test_an_unreachable_registry_falls_back_to_the_local_tier(self):
        expected = self.tree(3)
        self.tiered("save", "--key", "deps-1", "cache")
        dead = f"127.0.0.1:{dead_port()}/{self.st.repo}"
        shutil.rmtree(self.cache)
        rc, out, err = self.regcache("--store", dead, "--local-cache", self.tier, "--json", "restore", "--key",
                                     "deps-2", "--restore-key", "deps-", "cache",
                                     env={"REGCACHE_RETRY_DELAY_MS": "1"}, check=True)
        r = json.loads(out)
        self.assertEqual((r["result"], r["matched_key"], r["source"]), ("partial", "deps-1", "local"), err)
        self.assertIn("restoring from the local cache", err)
        self.assertEqual(snapshot(self.cache), expected)
        # Without a tier, the same failure is an error.
        rc, out, err = self.regcache("--store", dead, "restore", "--key", "deps-2", "cache",
                                     env={"REGCACHE_RETRY_DELAY_MS": "1"})
        self.assertEqual(rc, 1)

    def test_a_restored_entry_is_kept_for_the_fallback(self):
        expected = self.tree(4)
        self.save(self.st, "only-remote", "cache")  # saved without the tier
        r, _ = self.restore_json("only-remote")
        self.assertEqual(r["result"], "hit")
        dead = f"127.0.0.1:{dead_port()}/{self.st.repo}"
        shutil.rmtree(self.cache)
        rc, out, err = self.regcache("--store", dead, "--local-cache", self.tier, "--json", "restore", "--key",
                                     "only-remote", "cache", env={"REGCACHE_RETRY_DELAY_MS": "1"}, check=True)
        self.assertEqual(json.loads(out)["source"], "local")
        self.assertEqual(snapshot(self.cache), expected)

    def test_the_fallback_skips_an_entry_whose_blobs_were_evicted(self):
        """Eviction goes blob by blob: offline, the newest kept entry that lacks a blob is
        skipped for the newest complete one, instead of failing the restore."""
        expected, _, newer_only = self.two_kept_entries(7)
        os.unlink(os.path.join(self.tier, "blobs", "sha256", newer_only[0]))  # as eviction does
        rc, out, err = self.offline("-v", "restore", "--key", "deps-3", "--restore-key", "deps-", "cache")
        r = json.loads(out)
        self.assertEqual((r["result"], r["matched_key"], r["source"]), ("partial", "deps-1", "local"), err)
        self.assertIn("is not in", err)
        self.assertEqual(snapshot(self.cache), expected)

    def test_the_fallback_passes_over_an_entry_whose_copy_is_damaged(self):
        """Offline, a kept blob whose bytes no longer match its digest fails that entry's
        restore only: the next older match is restored, and nothing of the damaged one stays."""
        expected, digest, newer_only = self.two_kept_entries(9)
        with open(os.path.join(self.tier, "blobs", "sha256", newer_only[-1]), "r+b") as f:
            f.seek(-8, os.SEEK_END)
            f.write(b"\xff" * 8)  # the same size, other bytes
        rc, out, err = self.offline("restore", "--key", "deps-3", "--restore-key", "deps-", "cache")
        r = json.loads(out)
        self.assertEqual((r["result"], r["matched_key"], r["source"]), ("partial", "deps-1", "local"), err)
        self.assertIn("trying an older entry", err)
        self.assertEqual(snapshot(self.cache), expected)
        self.assertEqual([n for n in os.listdir(self.ws) if n != "cache"], [], "no staging left behind")
        # With only the damaged entry to match, it is a miss (the job builds cold), not an error.
        rc, out, err = self.offline("restore", "--key", "deps-2", "cache")
        self.assertEqual(json.loads(out)["result"], "miss", err)
        self.assertEqual(os.listdir(self.ws), [], "no staging left behind")
        # A kept manifest with other bytes is passed over too: the restore key finds deps-1.
        with open(os.path.join(self.tier, "blobs", "sha256", digest.split(":")[1]), "r+b") as f:
            f.write(b"[")
        rc, out, err = self.offline("restore", "--key", "deps-2", "--restore-key", "deps-", "cache")
        r = json.loads(out)
        self.assertEqual((r["result"], r["matched_key"], r["source"]), ("partial", "deps-1", "local"), err)
        self.assertEqual(snapshot(self.cache), expected)

    def test_a_verified_restore_keeps_what_it_verified_for_the_fallback(self):
        """A verifying restore that matched a signed entry by a restore key, while the exact
        key held an unsigned one, keeps the signed entry, its signature and its referrers
        list: offline, a verifying restore of this machine finds and checks them."""
        keys = os.path.join(self.tmp, "keys")
        self.regcache("keygen", "--out", keys, check=True)
        key, pub = os.path.join(keys, "regcache.key"), os.path.join(keys, "regcache.pub")
        self.tree(9)
        self.tiered("save", "--key", "other", "cache")  # the tier's least recently used blobs
        expected = self.tree(5)
        self.save(self.st, "deps-1", "cache", extra=("--sign-key", key))  # without the tier
        self.tree(6)
        self.save(self.st, "deps-2", "cache")  # newer, unsigned, under the exact key
        # Another referrer in deps-1's list (a second signature, another tool's): the restore
        # does not read it, so the tier has no copy of it.
        other = self.st.client.get_manifest("deps-2")
        digest = self.st.client.put_manifest("deps-1", self.st.client.get_manifest("deps-1"))
        index_type = "application/vnd.oci.image.index.v1+json"
        st, _, body = self.st.client.request("GET", self.st.client.url(f"manifests/{digest.replace(':', '-')}"),
                                             headers={"Accept": index_type})
        self.assertEqual(st, 200)
        index = json.loads(body)
        index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "digest": "sha256:" + hashlib.sha256(other).hexdigest(), "size": len(other),
                                   "artifactType": "application/vnd.dev.regcache.signature.v1",
                                   "annotations": {"dev.regcache.signature.key": "sha256:" + "1" * 64}})
        self.st.client.put_manifest(digest.replace(":", "-"), json.dumps(index).encode(), index_type)
        r, err = self.restore_json("deps-2", "--restore-key", "deps-", "--verify-key", pub)
        self.assertEqual((r["result"], r["matched_key"]), ("partial", "deps-1"), err)
        # An eviction (of the oldest blob, the other entry's) then forgets incomplete entries:
        # not the list kept for deps-1.
        held = blob_files(self.tier)
        self.tiered("restore", "--key", "none", "cache", env={"REGCACHE_LOCAL_CACHE_MAX": f"{sum(held.values()) - 1}B"})
        self.assertLess(len(blob_files(self.tier)), len(held), "nothing was evicted")
        dead = f"127.0.0.1:{dead_port()}/{self.st.repo}"
        shutil.rmtree(self.cache)
        rc, out, err = self.regcache("--store", dead, "--local-cache", self.tier, "--json", "-v", "restore",
                                     "--key", "deps-2", "--restore-key", "deps-", "--verify-key", pub, "cache",
                                     env={"REGCACHE_RETRY_DELAY_MS": "1"}, check=True)
        r = json.loads(out)
        self.assertEqual((r["result"], r["matched_key"], r["source"]), ("partial", "deps-1", "local"), err)
        self.assertEqual(snapshot(self.cache), expected)

    def test_a_restore_does_not_put_back_an_older_entry_than_the_tier_holds(self):
        """A job that restored a key while another job on this machine saved a newer entry of
        it leaves the tier's tag on the newer one: the offline fallback takes the newest."""
        self.tree(10)
        self.save(self.st, "k", "cache", env={"REGCACHE_NOW": "2024-01-01T00:00:00Z"})  # the registry's
        newer = self.tree(11)
        elsewhere = self.store("open")  # the other job's save, through this machine's tier
        self.regcache("--store", elsewhere.ref, "--local-cache", self.tier, "save", "--key", "k", "cache",
                      env=dict(elsewhere.env, REGCACHE_NOW="2024-01-02T00:00:00Z"), check=True)
        r, err = self.restore_json("k")
        self.assertEqual(r["result"], "hit", err)
        dead = f"127.0.0.1:{dead_port()}/{self.st.repo}"
        shutil.rmtree(self.cache)
        rc, out, err = self.regcache("--store", dead, "--local-cache", self.tier, "--json", "restore", "--key",
                                     "k", "cache", env={"REGCACHE_RETRY_DELAY_MS": "1"}, check=True)
        self.assertEqual(json.loads(out)["source"], "local", err)
        self.assertEqual(snapshot(self.cache), newer, "the restore put the older entry back under the tag")

    def hold_lock(self, layout):
        """Holds the layout's lock from another process, opened read-only (flock needs no
        more), until the test ends."""
        path = os.path.join(layout, ".regcache.lock")
        open(path, "a").close()
        holder = subprocess.Popen(
            [sys.executable, "-c", "import fcntl, sys, time\nf = open(sys.argv[1])\n"
             "fcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(600)", path],
            stdout=subprocess.PIPE, text=True)

        def release():
            holder.kill()
            holder.wait()
            holder.stdout.close()
        self.addCleanup(release)
        self.assertEqual(holder.stdout.readline().strip(), "held")
        return release

    def test_a_lock_held_elsewhere_does_not_hold_up_a_restore(self):
        """Anyone who can read the tier can hold its lock: a restore through it neither waits
        for ever nor fails; it restores from the registry, says why the tier did not keep the
        entry, and keeps it once the lock is free."""
        warm = self.tree(20)
        self.tiered("save", "--key", "warm", "cache")
        remote = self.tree(21)
        self.save(self.st, "remote", "cache")  # not through the tier: a restore keeps it there
        release = self.hold_lock(self.tier)
        r, err = self.restore_json("warm")
        self.assertEqual((r["result"], r["downloaded_bytes"]), ("hit", 0), err)
        self.assertEqual(snapshot(self.cache), warm)
        r, err = self.restore_json("remote")
        self.assertEqual(r["result"], "hit", err)
        self.assertEqual(snapshot(self.cache), remote)
        self.assertIn(".regcache.lock is held by another process", err)
        dead = f"127.0.0.1:{dead_port()}/{self.st.repo}"
        offline = ["--store", dead, "--local-cache", self.tier, "--json", "restore", "--key", "remote", "cache"]
        shutil.rmtree(self.cache)
        rc, out, err = self.regcache(*offline, env={"REGCACHE_RETRY_DELAY_MS": "1"}, check=True)
        self.assertEqual(json.loads(out)["result"], "miss", "the tier kept the entry while its lock was held")
        release()
        self.restore_json("remote")
        shutil.rmtree(self.cache)
        rc, out, err = self.regcache(*offline, env={"REGCACHE_RETRY_DELAY_MS": "1"}, check=True)
        self.assertEqual((json.loads(out)["result"], json.loads(out)["source"]), ("hit", "local"), err)
        self.assertEqual(snapshot(self.cache), remote)

    def test_a_layout_store_whose_lock_is_held_gives_up_at_the_time_budget(self):
        layout = self.store("layout")
        self.tree(22)
        self.save(layout, "k", "cache")
        self.hold_lock(layout.ref[len("oci:"):])
        rc, out, err = self.regcache("--store", layout.ref, "delete", "--timeout", "2", "k")
        self.assertNotEqual(rc, 0)
        lines = [l for l in err.splitlines() if l.startswith("regcache: error")]
        self.assertEqual(len(lines), 1, err)
        self.assertIn(".regcache.lock is held by another process", lines[0])
        self.assertEqual([e["key"] for e in self.list_keys(layout)], ["k"], "the entry went although its delete failed")

    def test_an_entry_dated_in_the_future_does_not_keep_its_tag_in_the_tier(self):
        """Whoever pushes chooses an entry's creation time: one dated 2099 that a restore kept
        in the tier must not stay under the key once the registry names another entry."""
        self.tree(23)
        self.save(self.st, "k", "cache", env={"REGCACHE_NOW": "2099-01-01T00:00:00Z"})
        r, err = self.restore_json("k")  # kept in the tier
        self.assertEqual(r["result"], "hit", err)
        current = self.tree(24)
        self.save(self.st, "k", "cache", extra=("--force",), env={"REGCACHE_NOW": "2024-01-01T00:00:00Z"})
        r, err = self.restore_json("k")
        self.assertEqual(r["result"], "hit", err)
        self.assertEqual(snapshot(self.cache), current)
        dead = f"127.0.0.1:{dead_port()}/{self.st.repo}"
        shutil.rmtree(self.cache)
        rc, out, err = self.regcache("--store", dead, "--local-cache", self.tier, "--json", "restore", "--key",
                                     "k", "cache", env={"REGCACHE_RETRY_DELAY_MS": "1"}, check=True)
        self.assertEqual(json.loads(out)["source"], "local", err)
        self.assertEqual(snapshot(self.cache), current, "the tier kept the entry dated in the future")

    def test_the_fallback_needs_a_tier_no_one_else_may_write(self):
        """The fallback restores what the tier's tags name on their word: a tier group or
        others may write is used for blobs (checked by digest) but not for the fallback,
        unless the entries must be signed."""
        self.tree(25)
        self.tiered("save", "--key", "k", "cache")
        os.chmod(self.tier, 0o777)
        self.addCleanup(os.chmod, self.tier, 0o755)
        r, err = self.restore_json("k")
        self.assertEqual((r["result"], r["downloaded_bytes"]), ("hit", 0), err)
        dead = f"127.0.0.1:{dead_port()}/{self.st.repo}"
        shutil.rmtree(self.cache)
        rc, out, err = self.regcache("--store", dead, "--local-cache", self.tier, "restore", "--key", "k", "cache",
                                     env={"REGCACHE_RETRY_DELAY_MS": "1"})
        self.assertEqual(rc, 1, err)
        self.assertIn("may be written by group or others", err)
        self.assertFalse(os.path.exists(self.cache), "restored from a tier others may write")
        os.chmod(self.tier, 0o755)
        with open(os.path.join(self.tier, "index.json"), "rb") as f:
            index = f.read()
        os.unlink(os.path.join(self.tier, "index.json"))
        with open(os.path.join(self.tier, "index.json"), "wb") as f:
            f.write(index)
        os.chmod(os.path.join(self.tier, "index.json"), 0o666)
        rc, out, err = self.regcache("--store", dead, "--local-cache", self.tier, "restore", "--key", "k", "cache",
                                     env={"REGCACHE_RETRY_DELAY_MS": "1"})
        self.assertEqual(rc, 1, err)
        self.assertIn("index.json may be written by group or others", err)
        os.chmod(os.path.join(self.tier, "index.json"), 0o644)
        self.regcache("--store", dead, "--local-cache", self.tier, "restore", "--key", "k", "cache",
                      env={"REGCACHE_RETRY_DELAY_MS": "1"}, check=True)

    def test_jobs_share_one_tier_at_once(self):
        trees = {}
        for i in range(2):
            trees[f"c{i}"] = self.tree(10 + i)
            self.save(self.st, f"c{i}", "cache")
        results = []

        def job(n, key):
            ws = os.path.join(self.tmp, f"job{n}")
            os.makedirs(ws)
            args = [BIN, "--store", self.st.ref, "--local-cache", self.tier, "--json", "restore", "--key", key, "cache"]
            r = subprocess.run(args, cwd=ws, env=clean_env(self.home, self.st.env, self.tmpdir),
                               capture_output=True, text=True, timeout=180)
            results.append((n, key, r.returncode, r.stderr, snapshot(os.path.join(ws, "cache")) if r.returncode == 0 else None))

        threads = [threading.Thread(target=job, args=(n, f"c{n % 2}")) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for n, key, rc, err, tree in results:
            self.assertEqual(rc, 0, err)
            self.assertEqual(tree, trees[key], f"job {n} restored {key} wrong")
        self.assertFalse([n for n in os.listdir(self.tier) if n.startswith(".regcache-tmp-")], "temporaries left")
        r, _ = self.restore_json("c1")
        self.assertEqual(r["downloaded_bytes"], 0)

    def test_local_cache_max_evicts_the_least_recently_used_blobs(self):
        self.tree(5)
        self.tiered("save", "--key", "old", "cache")
        old = set(blob_files(self.tier))
        self.tree(6)
        self.tiered("save", "--key", "new", "cache")
        new_only = set(blob_files(self.tier)) - old
        new_size = sum(v for k, v in blob_files(self.tier).items() if k in new_only)
        r, _ = self.restore_json("new", env={"REGCACHE_LOCAL_CACHE_MAX": f"{new_size + 1024}B"})
        self.assertEqual(r["result"], "hit")
        left = blob_files(self.tier)
        self.assertLessEqual(sum(left.values()), new_size + 1024)
        self.assertTrue(new_only <= set(left), "the blobs just used were evicted")
        with open(os.path.join(self.tier, "index.json")) as f:
            index = json.load(f)
        tags = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in index["manifests"]}
        self.assertIn("new", tags)
        self.assertNotIn("old", tags, "the evicted entry's tag stayed in index.json")
        for tag, digest in tags.items():
            self.assertIn(digest.split(":")[1], left, f"{tag}: its manifest was evicted, its tag kept")
            with open(os.path.join(self.tier, "blobs", "sha256", digest.split(":")[1])) as f:
                manifest = json.load(f)
            for d in [manifest["config"]] + manifest["layers"]:
                self.assertIn(d["digest"].split(":")[1], left, f"{tag}: a blob of it was evicted, its tag kept")
        r, _ = self.restore_json("old")
        self.assertEqual(r["result"], "hit")
        self.assertGreater(r["downloaded_bytes"], 0, "the old entry's blobs were evicted and fetched again")

    def test_bad_limits_and_a_layout_store(self):
        rc, out, err = self.tiered("restore", "--key", "x", "cache", env={"REGCACHE_LOCAL_CACHE_MAX": "lots"},
                                   check=None)
        self.assertEqual(rc, 2, err)
        self.assertIn("--local-cache-max", err)
        rc, out, err = self.tiered("restore", "--key", "x", "cache", env={"REGCACHE_LOCAL_CACHE_MAX": "500"},
                                   check=None)
        self.assertEqual(rc, 2, err)
        self.assertIn("500 needs a unit", err)
        # Written as a layout store is, oci:DIR is the directory DIR (not ws/oci:DIR).
        self.tree(6)
        other = os.path.join(self.tmp, "tier-written-as-a-store")
        self.tiered("save", "--key", "o", "cache", tier="oci:" + other)
        self.assertTrue(os.path.exists(os.path.join(other, "index.json")))
        self.assertEqual(sorted(os.listdir(self.ws)), ["cache"])
        layout = self.store("layout")
        self.tree(7)
        rc, out, err = self.regcache("--store", layout.ref, "--local-cache", self.tier, "save", "--key", "l", "cache")
        self.assertEqual(rc, 0, err)
        self.assertIn("--local-cache is for a registry store", err)
        self.assertFalse(os.path.exists(self.tier))


if __name__ == "__main__":
    unittest.main()
