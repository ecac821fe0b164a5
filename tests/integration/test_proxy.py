"""regcache behind an HTTPS proxy, as CI machines in companies run it: libcurl takes the
proxy from HTTPS_PROXY (with its user name and password) and tunnels through it with
CONNECT; NO_PROXY sends a host around it. A request that cannot get through names the
proxy it tried, without the proxy's password. The registry is the real TLS one with Basic
auth; the proxy is tests/harness/connect_proxy.py."""
import os
import socket
import sys
import uuid

from common import SOURCE_DIR, RegcacheTestCase, make_small_tree, services, snapshot

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "harness"))
from connect_proxy import ConnectProxy  # noqa: E402


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BehindAProxy(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        services()
        self.password = "ProxyPw-" + uuid.uuid4().hex[:10]
        self.proxy = ConnectProxy(user="proxy-user", password=self.password).start()
        self.addCleanup(self.proxy.stop)
        self.st = self.store("basic")
        make_small_tree(os.path.join(self.ws, "cache"))

    def via(self, password=None, address=None, extra=None):
        # A registry on loopback is probed for TLS first, and one that answers no TLS is
        # spoken to over plain HTTP, which HTTPS_PROXY does not cover; a real registry is
        # https without a probe, as this variable makes the loopback one.
        env = {"HTTPS_PROXY": f"http://proxy-user:{password or self.password}@{address or self.proxy.address}",
               "REGCACHE_RETRY_DELAY_MS": "1", "REGCACHE_LOOPBACK_TRANSPORT": "https"}
        env.update(extra or {})
        return env

    def assertNoPassword(self, *texts):
        for t in texts:
            self.assertNotIn(self.password, t)
            self.assertNotIn("WrongPw", t)

    def test_save_and_restore_go_through_the_proxy(self):
        rc, out, err = self.regcache("-v", "--store", self.st.ref, "save", "--key", "k", "cache",
                                     env={**self.st.env, **self.via()}, check=True)
        self.assertNoPassword(out, err)
        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        rc, out2, err2 = self.regcache("-v", "--store", self.st.ref, "--json", "restore", "--key", "k",
                                       env={**self.st.env, **self.via()}, cwd=other, check=True)
        self.assertNoPassword(out2, err2)
        self.assertIn('"result":"hit"', out2.replace(" ", ""))
        self.assertEqual(snapshot(os.path.join(self.ws, "cache")), snapshot(os.path.join(other, "cache")))
        targets = {e["target"] for e in self.proxy.log}
        self.assertEqual(targets, {self.st.host}, "every request went through the proxy, to the registry")
        self.assertTrue(all(e["status"] == 200 for e in self.proxy.log), self.proxy.log)

    def test_no_proxy_goes_around_it(self):
        self.regcache("--store", self.st.ref, "save", "--key", "k", "cache",
                      env={**self.st.env, **self.via(extra={"NO_PROXY": "localhost,127.0.0.0/8"})},
                      check=True)
        self.assertEqual(self.proxy.log, [])

    def test_a_refused_proxy_password_is_one_line_naming_the_proxy(self):
        rc, out, err = self.regcache("--store", self.st.ref, "save", "--key", "k", "cache",
                                     env={**self.st.env, **self.via(password="WrongPw-1")})
        self.assertNotEqual(rc, 0)
        self.assertNoPassword(out, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("the proxy answered HTTP 407 to CONNECT (Proxy Authentication Required) "
                      f"(through the proxy http://{self.proxy.address} that HTTPS_PROXY names)", lines[0])
        self.assertTrue(self.proxy.log and all(e["status"] == 407 for e in self.proxy.log), self.proxy.log)


    def test_an_unreachable_proxy_is_named(self):
        address = f"127.0.0.1:{closed_port()}"
        for cmd in (("save", "--key", "k", "cache"), ("restore", "--key", "k")):
            rc, out, err = self.regcache("--store", self.st.ref, *cmd,
                                         env={**self.st.env, **self.via(address=address)})
            self.assertNotEqual(rc, 0, cmd)
            self.assertNoPassword(out, err)
            self.assertIn(f"(through the proxy http://{address} that HTTPS_PROXY names)", err, cmd)
