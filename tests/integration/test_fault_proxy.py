"""Self-test of the fault proxy (tests/harness/fault_proxy.py) with a plain HTTP client in
front of the open registry: each action does what test_faults.py relies on, request
bodies (Content-Length and chunked) and Range pass through, Location headers point back
at the proxy, and the standalone mode and control endpoints work. No regcache involved."""

import hashlib
import http.client
import json
import os
import subprocess
import sys
import time
import unittest
import uuid

from common import services

HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness")
sys.path.insert(0, HARNESS)
from fault_proxy import FaultProxy  # noqa: E402


class FaultProxySelfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = services()["REG_OPEN"]
        cls.repo = "proxy-selftest/" + uuid.uuid4().hex
        cls.blob = os.urandom(200_000)
        cls.digest = "sha256:" + hashlib.sha256(cls.blob).hexdigest()
        with FaultProxy(cls.upstream) as p:
            conn = http.client.HTTPConnection(p.host, p.port, timeout=10)
            conn.request("POST", f"/v2/{cls.repo}/blobs/uploads/", body=b"")
            r = conn.getresponse()
            r.read()
            assert r.status == 202, r.status
            cls.location = r.getheader("Location")
            # a chunked request body, to a Location the proxy rewrote to itself
            path = cls.location.split(p.address, 1)[1]
            conn.request("PUT", path + "&digest=" + cls.digest, body=iter([cls.blob[:70_000], cls.blob[70_000:]]),
                         encode_chunked=True, headers={"Content-Type": "application/octet-stream"})
            r = conn.getresponse()
            r.read()
            assert r.status == 201, r.status
            cls.proxy_address = p.address
            conn.close()

    def setUp(self):
        self.p = FaultProxy(self.upstream).start()
        self.addCleanup(self.p.stop)
        self.path = f"/v2/{self.repo}/blobs/{self.digest}"

    def get(self, path=None, headers=None, method="GET", proxy=None):
        proxy = proxy or self.p
        conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=10)
        self.addCleanup(conn.close)
        conn.request(method, path or self.path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()

    def test_location_rewritten_and_chunked_upload_forwarded(self):
        self.assertTrue(self.location.startswith(f"http://{self.proxy_address}/"), self.location)
        st, h, body = self.get()
        self.assertEqual((st, body), (200, self.blob))
        st, h, body = self.get(method="HEAD")
        self.assertEqual((st, h.get("Content-Length"), body), (200, str(len(self.blob)), b""))

    def test_range_passes_through_or_is_ignored(self):
        st, _, body = self.get(headers={"Range": "bytes=1000-"})
        self.assertEqual((st, body), (206, self.blob[1000:]))
        self.p.set_rules([{"path": "/blobs/", "range": True, "always": True, "action": "ignore_range"}])
        st, _, body = self.get(headers={"Range": "bytes=1000-"})
        self.assertEqual((st, body), (200, self.blob))
        self.assertEqual(self.p.log[-1]["range"], "bytes=1000-")

    def test_cuts(self):
        for action in ("reset_mid_body", "truncate"):
            with self.subTest(action):
                self.p.set_rules([{"method": "GET", "path": "/blobs/", "nth": 1, "action": action, "after": 5000}])
                with self.assertRaises((http.client.IncompleteRead, ConnectionError)):
                    self.get()
                self.assertEqual(self.p.fired()[-1]["sent_body"], 5000)
                self.assertEqual(self.get()[2], self.blob)  # nth=1 only
        self.p.set_rules([{"method": "GET", "nth": 1, "action": "reset_request"}])
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.get()

    def test_corrupt_byte(self):
        self.p.set_rules([{"method": "GET", "path": "/blobs/", "nth": 1, "action": "corrupt_byte", "offset": 77}])
        st, _, body = self.get()
        self.assertEqual(st, 200)
        self.assertEqual([i for i in range(len(body)) if body[i] != self.blob[i]], [77])

    def test_status_first_n_and_stall(self):
        self.p.set_rules([{"method": "GET", "path": "/blobs/", "first_n": 2, "action": "status", "status": 429,
                           "retry_after": 3}])
        got = [self.get() for _ in range(3)]
        self.assertEqual([g[0] for g in got], [429, 429, 200])
        self.assertEqual(got[0][1].get("Retry-After"), "3")
        self.assertIn(b"TOOMANYREQUESTS", got[0][2])
        self.p.set_rules([{"method": "GET", "nth": 1, "action": "stall", "seconds": 0.5, "where": "body"}])
        t0 = time.monotonic()
        self.assertEqual(self.get()[2], self.blob)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)

    def test_redirect_and_authorization_record(self):
        with FaultProxy(self.upstream) as other:
            self.p.set_rules([{"method": "GET", "always": True, "action": "redirect", "target": other.address}])
            st, h, _ = self.get(headers={"Authorization": "Bearer secret"})
            self.assertEqual((st, h["Location"]), (307, f"http://{other.address}{self.path}"))
            # a client that (wrongly) carries Authorization along shows up in the log
            self.assertEqual(self.get(headers={"Authorization": "Bearer secret"}, proxy=other)[2], self.blob)
            self.assertEqual([e["auth"] for e in other.log], [True])
            self.assertNotIn("secret", json.dumps(other.log + self.p.log))

    def test_stop_interrupts_a_stall(self):
        p = FaultProxy(self.upstream).start()
        p.set_rules([{"always": True, "action": "stall", "seconds": 3600}])
        conn = http.client.HTTPConnection(p.host, p.port, timeout=60)
        conn.request("GET", "/v2/")
        while not p.log:  # the request has reached the proxy (the call's timeout stands for never)
            time.sleep(0.01)
        p.stop()
        # Interrupted, not waited out: every handler ends (the test's timeout stands for never).
        for t in p._threads:
            t.join()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()
        conn.close()

    def test_standalone_with_control_endpoints(self):
        proc = subprocess.Popen([sys.executable, os.path.join(HARNESS, "fault_proxy.py"), "--upstream",
                                 self.upstream, "--port", "0"], stdout=subprocess.PIPE, text=True)
        try:
            port = int(proc.stdout.readline())
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            rules = [{"method": "GET", "path": "^/v2/$", "nth": 1, "action": "status", "status": 503}]
            for method, path, body, want in (("POST", "/__fault/script", json.dumps(rules), 200),
                                             ("GET", "/v2/", None, 503), ("GET", "/v2/", None, 200),
                                             ("POST", "/__fault/script", "[{\"action\": \"nope\"}]", 400)):
                conn.request(method, path, body=body)
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, want, (method, path))
            conn.request("GET", "/__fault/log")
            log = json.loads(conn.getresponse().read())
            self.assertEqual([(e["status"], e["action"]) for e in log], [(503, "status"), (200, None)])
            conn.request("POST", "/__fault/reset")
            conn.getresponse().read()
            conn.request("GET", "/__fault/log")
            self.assertEqual(json.loads(conn.getresponse().read()), [])
            conn.close()
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(10), 0)
            proc.stdout.close()


if __name__ == "__main__":
    unittest.main()
