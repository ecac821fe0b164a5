"""regcache speaks HTTP/1.1 to a registry that offers HTTP/2 (as a registry written in Go does,
over TLS): an upload over HTTP/2 is paced by the server's flow-control window, one window per
round trip (Go's default is 1 MiB, so 12.5 MB/s at 80 ms), while TCP's own window grows with
the link (docs/decisions.md, "HTTP/1.1 to registries").

The registry is the harness's plain-HTTP one behind an HTTPS front (the fault proxy with the
harness's server certificate), which offers h2 before http/1.1 in the TLS handshake and logs
what each connection agreed. The front speaks only HTTP/1.1: a client that took HTTP/2 would
fail there, and its connections would be logged as such."""
import os
import sys
import unittest
import uuid

from common import RegcacheTestCase, make_small_tree, services, snapshot, write_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from fault_proxy import FaultProxy  # noqa: E402

MIB = 1 << 20


@unittest.skipIf(services() is None, "needs the test registries (tests/harness/services.py)")
class HttpVersionTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        svc = services()
        certs = os.path.join(svc["SERVICES_DIR"], "basic")
        self.front = FaultProxy(svc["REG_OPEN"], tls=(os.path.join(certs, "server.crt"),
                                                      os.path.join(certs, "server.key"))).start()
        self.addCleanup(self.front.stop)
        self.env = {"REGCACHE_CA_FILE": svc["REG_CA"], "REGCACHE_LOOPBACK_TRANSPORT": "https"}
        self.ref = f"{self.front.address}/http-version/{uuid.uuid4().hex}"

    def run_regcache(self, *args, cwd):
        rc, out, err = self.regcache("--store", self.ref, *args, env=self.env, cwd=cwd)
        self.assertEqual(rc, 0, err)
        return out

    def assert_all_http11(self, what):
        log = self.front.log
        self.assertTrue(log, f"{what}: nothing reached the front")
        offered_h2 = [e for e in log if e.get("alpn") != "http/1.1"]
        self.assertEqual(offered_h2, [], f"{what}: connections that did not agree on HTTP/1.1")
        return log

    def test_saves_and_restores_over_http11_where_http2_is_offered(self):
        tree = os.path.join(self.ws, "cache")
        make_small_tree(tree)
        write_file(os.path.join(tree, "big.bin"), os.urandom(6 * MIB))  # a blob with a real body
        before = snapshot(tree)

        self.run_regcache("save", "--key", "k", "cache", cwd=self.ws)
        saved = self.assert_all_http11("save")
        uploads = [e for e in saved if e["method"] in ("PUT", "PATCH") and "/blobs/uploads/" in e["path"]]
        self.assertTrue(uploads, "the save uploaded no blob through the front")

        self.front.reset()
        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        self.run_regcache("restore", "--key", "k", cwd=other)
        restored = self.assert_all_http11("restore")
        self.assertTrue(any(e["method"] == "GET" and "/blobs/sha256:" in e["path"] for e in restored),
                        "the restore downloaded no blob through the front")
        self.assertEqual(before, snapshot(os.path.join(other, "cache")))


if __name__ == "__main__":
    unittest.main()
