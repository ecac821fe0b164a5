"""The Debian package of the static binary (make deb): what it holds, that it depends on
nothing, and that dpkg -i installs it (into a root of its own, with its own dpkg database:
the test must not install into the machine running it) and dpkg -r removes it whole."""

import glob
import os
import subprocess
import unittest

from common import RegcacheTestCase, tree_listing

DEB_DIR = os.environ.get("REGCACHE_DEB_DIR", "")
DEBS = sorted(glob.glob(os.path.join(DEB_DIR, "regcache_*.deb"))) if DEB_DIR else []


@unittest.skipUnless(DEBS, "no package (REGCACHE_DEB_DIR has no regcache_*.deb); `make deb` builds it")
class DebTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        self.deb = DEBS[-1]

    def dpkg(self, root, *args):
        r = subprocess.run(["dpkg", "--root=" + root, "--log=/dev/null", "--force-not-root", *args],
                           capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout + r.stderr

    def test_fields_and_contents(self):
        fields = subprocess.run(["dpkg-deb", "-f", self.deb], capture_output=True, text=True, check=True).stdout
        self.assertIn("Package: regcache\n", fields)
        self.assertNotIn("Depends:", fields, "a static binary needs no other package")
        contents = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True, check=True).stdout
        for path in ("./usr/bin/regcache", "./usr/share/man/man1/regcache.1",
                     "./usr/share/bash-completion/completions/regcache", "./usr/share/zsh/vendor-completions/_regcache"):
            self.assertIn(path, contents)

    def test_dpkg_installs_and_removes_it(self):
        root = os.path.join(self.tmp, "root")
        admin = os.path.join(root, "var", "lib", "dpkg")
        for d in ("info", "updates", "triggers"):
            os.makedirs(os.path.join(admin, d))
        open(os.path.join(admin, "status"), "w").close()
        before = tree_listing(root)
        rc, out = self.dpkg(root, "-i", self.deb)
        self.assertEqual(rc, 0, out)
        binary = os.path.join(root, "usr", "bin", "regcache")
        got = subprocess.run([binary, "--version"], capture_output=True, text=True)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertIn("regcache", got.stdout)
        rc, out = self.dpkg(root, "-s", "regcache")
        self.assertIn("Status: install ok installed", out)
        rc, out = self.dpkg(root, "-r", "regcache")
        self.assertEqual(rc, 0, out)
        self.assertFalse(os.path.exists(binary))
        left = {p for p in tree_listing(root) - before if not p.startswith("var/lib/dpkg")}
        self.assertEqual({p for p in left if not os.path.isdir(os.path.join(root, p))}, set(), left)


if __name__ == "__main__":
    unittest.main()
