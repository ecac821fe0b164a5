"""A token registry whose token service shares its host and port, as ghcr.io's does
(`/token` on the registry's own HTTPS address). regcache saves and restores through it, every
request (tokens included) goes to that one address, uploads follow the `Location` the front
rewrote, and the restore's last-use record goes up with a push token fetched beforehand: no
write meets a challenge.

The front is the fault proxy (tests/harness/fault_proxy.py) with TLS and a route. The test
starts registries of its own (tests/harness/services.py --token-realm), because the token
registry's challenge has to name the front."""
import os
import shutil
import subprocess
import sys
import unittest

from common import SOURCE_DIR, RegcacheTestCase, make_small_tree, snapshot

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "harness"))
from fault_proxy import FaultProxy  # noqa: E402

SERVICES = os.path.join(SOURCE_DIR, "tests", "harness", "services.py")


def read_env(path):
    out = {}
    with open(path) as f:
        for line in f:
            name, sep, value = line.strip().partition("=")
            if sep:
                out[name] = value.strip("'\"")
    return out


@unittest.skipIf(shutil.which("docker-registry") is None and not os.path.exists("/usr/bin/docker-registry"),
                 "needs Debian's docker-registry")
class TokenOnTheRegistryHostTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        # The front listens first, so that the realm can name its port.
        self.front = FaultProxy("127.0.0.1:1")
        self.addCleanup(self.front.stop)
        svc = os.path.join(self.tmp, "svc")
        self.addCleanup(subprocess.run, [sys.executable, SERVICES, "stop", "--dir", svc],
                        capture_output=True, timeout=60)
        started = subprocess.run([sys.executable, SERVICES, "start", "--dir", svc, "--token-realm",
                                  f"https://{self.front.address}/token"], capture_output=True, text=True,
                                 timeout=120)
        self.assertEqual(started.returncode, 0, started.stderr)
        env = read_env(os.path.join(svc, "services.env"))
        self.front.upstream = env["REG_TOKEN"]
        self.front.routes = {"/token": env["TOKEN_SERVER"]}
        self.front.use_tls(os.path.join(svc, "basic", "server.crt"), os.path.join(svc, "basic", "server.key"))
        self.front.start()
        self.env = {"REGCACHE_USERNAME": env["REG_TOKEN_USER"], "REGCACHE_PASSWORD": env["REG_TOKEN_PASSWORD"],
                    "REGCACHE_CA_FILE": env["REG_CA"], "REGCACHE_LOOPBACK_TRANSPORT": "https"}
        self.ref = f"{self.front.address}/team/cache"

    def run_regcache(self, *args, cwd):
        rc, out, err = self.regcache("--store", self.ref, *args, env=self.env, cwd=cwd)
        self.assertEqual(rc, 0, err)
        return out

    def test_save_and_restore_with_the_token_service_on_the_registry_host(self):
        make_small_tree(os.path.join(self.ws, "cache"))
        before = snapshot(os.path.join(self.ws, "cache"))
        self.run_regcache("save", "--key", "k", "cache", cwd=self.ws)
        saved = self.front.log
        self.assertTrue(any(e["path"].startswith("/token") for e in saved), "no token came from the front")
        self.assertTrue(any(e["method"] == "PUT" and "/blobs/uploads/" in e["path"] for e in saved),
                        "no upload followed the rewritten Location to the front")

        self.front.reset()
        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        self.run_regcache("restore", "--key", "k", cwd=other)
        self.assertEqual(before, snapshot(os.path.join(other, "cache")))
        log = self.front.log
        writes = [e for e in log if e["method"] in ("POST", "PUT", "PATCH", "DELETE")]
        self.assertTrue(any(e["method"] == "PUT" for e in writes), "the restore wrote no last-use record")
        self.assertEqual([e for e in writes if e.get("upstream_status") == 401], [],
                         "a write met a challenge: its push token was not fetched beforehand")
        self.assertTrue(all(e.get("upstream_status") in (200, 201, 202) for e in writes), writes)


if __name__ == "__main__":
    unittest.main()
