"""install.sh against a loopback file server holding release files as the release workflow
makes them (regcache-linux-ARCH.tar.gz and its .sha256): it installs PREFIX/bin/regcache
and nothing else, replaces an older one, and refuses a wrong checksum, a missing file or a
bad argument with one line, leaving nothing behind."""

import functools
import hashlib
import http.server
import io
import os
import platform
import subprocess
import tarfile
import threading
import unittest

from common import BIN, RegcacheTestCase, tree_listing

SOURCE_DIR = os.environ.get("REGCACHE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
INSTALL_SH = os.path.join(SOURCE_DIR, "install.sh")
# The static binary when it was built (what releases ship), else the ordinary one.
STATIC_BIN = os.environ.get("REGCACHE_STATIC_BIN", "")
SHIPPED = STATIC_BIN if STATIC_BIN and os.path.exists(STATIC_BIN) else BIN
ASSET = f"regcache-linux-{platform.machine()}.tar.gz"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def shipped_bytes():
    with open(SHIPPED, "rb") as f:
        return f.read()


class InstallTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        self.files = os.path.join(self.tmp, "release")
        os.makedirs(self.files)
        self.publish(shipped_bytes())
        handler = functools.partial(QuietHandler, directory=self.files)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        self.prefix = os.path.join(self.tmp, "prefix")

    def publish(self, binary, digest=None):
        """Writes the release tarball holding `binary` as regcache, and its .sha256."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            info = tarfile.TarInfo("regcache")
            info.size, info.mode = len(binary), 0o755
            tar.addfile(info, io.BytesIO(binary))
        data = buf.getvalue()
        os.makedirs(os.path.join(self.files, "v1"), exist_ok=True)
        with open(os.path.join(self.files, "v1", ASSET), "wb") as f:
            f.write(data)
        with open(os.path.join(self.files, "v1", ASSET + ".sha256"), "w") as f:
            f.write(f"{digest or hashlib.sha256(data).hexdigest()}  {ASSET}\n")

    def install(self, *args, env=None):
        full_env = {"PATH": "/usr/bin:/bin", "HOME": self.home}
        full_env.update(env or {})
        r = subprocess.run(["/bin/sh", INSTALL_SH, *args], env=full_env, capture_output=True, text=True,
                           timeout=120)
        return r.returncode, r.stdout, r.stderr

    def test_installs_the_binary_into_the_prefix_and_nothing_else(self):
        rc, out, err = self.install("--prefix", self.prefix, "--url", self.url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(tree_listing(self.prefix), {"bin", "bin/regcache"})
        with open(os.path.join(self.prefix, "bin", "regcache"), "rb") as f:
            self.assertEqual(f.read(), shipped_bytes())
        got = subprocess.run([os.path.join(self.prefix, "bin", "regcache"), "--version"], capture_output=True,
                             text=True)
        self.assertIn("regcache", got.stdout)
        self.assertIn("installed regcache", out)
        self.assertIn("is not on PATH", out)

    def test_the_default_prefix_is_home_local_and_the_url_may_come_from_the_environment(self):
        rc, out, err = self.install(env={"REGCACHE_RELEASE_URL": self.url})
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.access(os.path.join(self.home, ".local", "bin", "regcache"), os.X_OK))

    def test_an_older_binary_is_replaced(self):
        os.makedirs(os.path.join(self.prefix, "bin"))
        old = os.path.join(self.prefix, "bin", "regcache")
        with open(old, "w") as f:
            f.write("#!/bin/sh\necho old\n")
        rc, out, err = self.install("--prefix", self.prefix, "--url", self.url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(tree_listing(self.prefix), {"bin", "bin/regcache"})
        self.assertNotIn("old", subprocess.run([old, "--version"], capture_output=True, text=True).stdout)

    def test_refusals_are_one_line_and_leave_nothing(self):
        self.publish(shipped_bytes(), digest="0" * 64)
        cases = [
            (["--prefix", self.prefix, "--url", self.url], 1, "SHA-256 mismatch"),
            (["--prefix", self.prefix, "--url", self.url + "/nowhere"], 1, "cannot download " + self.url + "/nowhere"),
            (["--prefix", self.prefix, "--frobnicate"], 2, "unknown argument: --frobnicate"),
            (["--prefix", self.prefix], 2, "REGCACHE_REPO"),
        ]
        for args, code, said in cases:
            with self.subTest(args=args):
                rc, out, err = self.install(*args)
                self.assertEqual(rc, code, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertIn(said, err)
                self.assertFalse(os.path.exists(os.path.join(self.prefix, "bin", "regcache")))
                self.assertEqual(tree_listing(self.prefix) - {"bin"}, set(), "left something behind")


if __name__ == "__main__":
    unittest.main()
