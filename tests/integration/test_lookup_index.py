"""The lookup index (issue 14, part 3) on the real registry: saves running at once may
overwrite each other's rows, yet a restore key still finds the newest entry, and the
restore writes back what the index lacked; a damaged index is written anew; with
REGCACHE_LOOKUP_INDEX=0 there is none."""
import json
import os
import threading
import unittest

from common import RegcacheTestCase, services

INDEX_TAG = "regcache-index"
INDEX_TYPE = "application/vnd.dev.regcache.index.v1+json"


def at(day):
    return f"2024-01-{day:02d}T00:00:00Z"


@unittest.skipIf(services() is None, "needs the test registries (tests/harness/services.py)")
class LookupIndexTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.ws, "t"))
        with open(os.path.join(self.ws, "t", "f"), "w") as f:
            f.write("content")

    def index_rows(self, store):
        m = store.client.get_manifest(INDEX_TAG)
        self.assertIsNotNone(m, "no lookup index")
        m = json.loads(m)
        self.assertEqual(m["artifactType"], INDEX_TYPE)
        rows = json.loads(m["annotations"]["dev.regcache.index.rows"])["rows"]
        self.assertEqual(m["layers"][0]["mediaType"], "application/vnd.oci.empty.v1+json",
                         "few rows stay in the annotation")
        return rows

    def concurrent_saves(self, store, n):
        results = [None] * n

        def one(i):
            results[i] = self.save(store, f"build-{i}", "t",
                                   env={"REGCACHE_NOW": at(i + 1)}, check=None)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, r in enumerate(results):
            self.assertIsInstance(r, dict, f"save build-{i}: {r}")
            self.assertEqual(r["result"], "saved", r)
        return results

    def check_concurrent_saves(self, backend):
        store = self.store(backend)
        n = 8
        saved = self.concurrent_saves(store, n)
        before = self.index_rows(store)
        self.assertTrue(before, "the saves wrote no row")
        for key, row in before.items():  # what is there is right, whatever was lost
            i = int(key.split("-")[1])
            self.assertEqual(row["digest"], saved[i]["digest"], key)
        got = self.restore(store, "build-x", "t", extra=("--restore-key", "build-"))
        self.assertEqual(got["result"], "partial")
        self.assertEqual(got["matched_key"], f"build-{n - 1}")
        after = self.index_rows(store)
        self.assertEqual(sorted(after), sorted(f"build-{i}" for i in range(n)),
                         "the restore writes back the rows the index lacked")
        listed = self.list_keys(store)
        self.assertEqual(sorted(e["key"] for e in listed), sorted(f"build-{i}" for i in range(n)))
        self.assertEqual(listed[0]["key"], f"build-{n - 1}", "newest first")

    def test_concurrent_saves_lose_no_entry_from_a_lookup(self):
        self.check_concurrent_saves("open")

    def test_concurrent_saves_with_tokens(self):
        self.check_concurrent_saves("token")

    def test_a_damaged_index_is_written_anew(self):
        store = self.store("open")
        for i in range(3):
            self.save(store, f"build-{i}", "t", env={"REGCACHE_NOW": at(i + 1)})
        m = json.loads(store.client.get_manifest(INDEX_TAG))
        m["artifactType"] = "application/vnd.example.other+json"  # valid OCI, not an index
        m["annotations"]["dev.regcache.index.rows"] = '{"rows": {}}'
        store.client.put_manifest(INDEX_TAG, json.dumps(m).encode())
        rc, out, err = self.regcache("--store", store.ref, "-v", "restore", "--key", "build-x",
                                     "--restore-key", "build-", "t", env=store.env, check=True)
        self.assertIn("matched build-2", err)
        self.assertIn("malformed lookup index", err)
        self.assertEqual(sorted(self.index_rows(store)), ["build-0", "build-1", "build-2"])

    def test_a_row_that_lies_about_the_key_does_not_hide_the_entry(self):
        store = self.store("open")
        for i in range(3):
            self.save(store, f"build-{i}", "t", env={"REGCACHE_NOW": at(i + 1)})
        m = json.loads(store.client.get_manifest(INDEX_TAG))
        rows = json.loads(m["annotations"]["dev.regcache.index.rows"])
        rows["rows"]["build-2"]["key"] = "elsewhere"
        m["annotations"]["dev.regcache.index.rows"] = json.dumps(rows)
        store.client.put_manifest(INDEX_TAG, json.dumps(m).encode())
        got = self.restore(store, "build-x", "t", extra=("--restore-key", "build-"))
        self.assertEqual(got["matched_key"], "build-2")

    def test_the_index_can_be_turned_off(self):
        store = self.store("open")
        env = {"REGCACHE_LOOKUP_INDEX": "0"}
        self.save(store, "build-0", "t", env=env)
        got = self.restore(store, "build-x", "t", extra=("--restore-key", "build-"), env=env)
        self.assertEqual(got["matched_key"], "build-0")
        self.assertNotIn(INDEX_TAG, store.client.tags())


if __name__ == "__main__":
    unittest.main()
