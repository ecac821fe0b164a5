"""A large layer comes from a registry as byte ranges on parallel connections, written in
order (store/registry/ranged_download.hpp): the real registry answers them (206), a range
cut mid-body is asked for again, and a server that ignores Range is read in one stream.
The proxy's log (tests/harness/fault_proxy.py) is the evidence of what was asked."""
import json
import os
import re
import shutil
import sys
import tempfile
import unittest
import uuid

from common import RegistryClient, run, services, snapshot

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from fault_proxy import FaultProxy  # noqa: E402

MIB = 1 << 20
CHUNK = 4 * MIB  # store/registry/registry_store.cpp: kRangeChunk
ENV = {"REGCACHE_RETRY_DELAY_MS": "10", "REGCACHE_STALL_TIMEOUT": "5"}


@unittest.skipIf(services() is None, "needs the test registries (tests/harness/services.py)")
class RangedDownloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = services()["REG_OPEN"]
        cls.root = tempfile.mkdtemp(prefix="regcache-ranges-")
        src = os.path.join(cls.root, "src")
        os.makedirs(os.path.join(src, "t"))
        with open(os.path.join(src, "t", "big.bin"), "wb") as f:
            f.write(os.urandom(40 * MIB))  # incompressible: one layer of about 40 MiB
        cls.snap = snapshot(os.path.join(src, "t"))
        cls.repo = "ranges/" + uuid.uuid4().hex
        run(["--store", f"{cls.upstream}/{cls.repo}", "save", "--key", "k1", "t"], cwd=src,
            env_extra=ENV, check=True)
        m = json.loads(RegistryClient(cls.upstream, cls.repo).get_manifest("k1"))
        big = max(m["layers"], key=lambda d: d["size"])
        cls.big, cls.big_size = big["digest"], big["size"]
        assert cls.big_size >= 4 * CHUNK, cls.big_size

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def restore_through(self, rules=()):
        proxy = FaultProxy(self.upstream).start()
        self.addCleanup(proxy.stop)
        proxy.set_rules(list(rules))
        ws = tempfile.mkdtemp(dir=self.root, prefix="ws-")
        rc, out, err = run(["--store", f"{proxy.address}/{self.repo}", "--json", "-v", "restore",
                            "--key", "k1"], cwd=ws, env_extra=ENV, timeout=120)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["result"], "hit")
        self.assertEqual(snapshot(os.path.join(ws, "t")), self.snap, "the restored file differs")
        return [e for e in proxy.log if self.big in e["path"] and e["method"] == "GET"]

    def test_a_large_layer_comes_as_ranges(self):
        gets = self.restore_through()
        ranges = sorted(e["range"] for e in gets)
        chunks = (self.big_size + CHUNK - 1) // CHUNK
        self.assertEqual(len(gets), chunks, gets)
        self.assertIn(f"bytes=0-{CHUNK - 1}", ranges)
        last = (chunks - 1) * CHUNK
        self.assertIn(f"bytes={last}-{self.big_size - 1}", ranges)
        self.assertTrue(all(e["status"] == 206 for e in gets), "the registry answers ranges")

    def test_a_range_cut_mid_body_is_asked_again(self):
        gets = self.restore_through([{"method": "GET", "path": self.big, "range": True, "nth": 3,
                                      "action": "reset_mid_body", "after": 100_000}])
        cut = [e for e in gets if e.get("action") == "reset_mid_body"]
        self.assertEqual(len(cut), 1)
        again = [e for e in gets if e["range"] == cut[0]["range"] and e.get("status") == 206]
        self.assertTrue(again, f"the cut range {cut[0]['range']} was not asked again")

    def test_a_server_ignoring_ranges_is_read_in_one_stream(self):
        gets = self.restore_through([{"method": "GET", "path": self.big, "range": True,
                                      "always": True, "action": "ignore_range"}])
        whole = [e for e in gets if not e["range"]]
        self.assertEqual(len(whole), 1, gets)
        self.assertTrue(any(re.match(r"^bytes=0-", e["range"] or "") for e in gets))
        self.assertEqual(len(gets), 2, "the first range told; the blob then came in one GET")


if __name__ == "__main__":
    unittest.main()
