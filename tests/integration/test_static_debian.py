"""The static regcache in an older distribution: a minimal Debian 11 (bullseye, glibc 2.31,
older than the glibc it was linked with) made by debootstrap from Debian's archive. Inside
it, without HOME, regcache finds the home directory in that system's /etc/passwd and its
default store under it, and saves and restores over HTTPS by name against the test
registry. The root is kept in the build directory and reused by later runs. The arm64
binary (make static-arm64) passes the same cases in the same root under qemu-user-static."""

import os
import re
import shutil
import subprocess
import unittest

from common import RegcacheTestCase, diff_snapshots, make_small_tree, services, snapshot, unique_repo
from test_static import build_or_skip

SUITE = "bullseye"


def mirror():
    """The machine's own Debian mirror (its apt sources), else deb.debian.org."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            continue
        m = re.search(r"^URIs:\s*(\S+)", text, re.M) or re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M)
        if m and "security" not in m.group(1):
            return m.group(1)
    return "http://deb.debian.org/debian"


def glibc_version(cmd):
    out = subprocess.run(cmd + ["--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+)\.(\d+)", out.splitlines()[0] if out else "")
    return (int(m.group(1)), int(m.group(2))) if m else None


class Cases:
    """Keeps the shared cases out of unittest's sight: each build's class below runs them."""

    class OlderDebianCases(RegcacheTestCase):
        root = None
        arch = ""

        @classmethod
        def setUpClass(cls):
            if os.geteuid() != 0:
                raise unittest.SkipTest("debootstrap and chroot need root")
            if not shutil.which("debootstrap"):
                raise unittest.SkipTest("no debootstrap (scripts/install-deps.sh --test installs it)")
            build_dir = os.path.dirname(os.path.abspath(services()["SERVICES_DIR"]))
            root = os.path.join(build_dir, f"debootstrap-{SUITE}")
            if not os.path.exists(os.path.join(root, ".complete")):
                shutil.rmtree(root, ignore_errors=True)
                r = subprocess.run(["debootstrap", "--variant=minbase", SUITE, root, mirror()],
                                   capture_output=True, text=True, timeout=1200)
                if r.returncode != 0:
                    shutil.rmtree(root, ignore_errors=True)
                    raise unittest.SkipTest(f"debootstrap could not make a {SUITE} root from {mirror()}: "
                                            + (r.stderr or r.stdout).strip().splitlines()[-1:][0])
                open(os.path.join(root, ".complete"), "w").close()
            cls.root = root

        def setUp(self):
            super().setUp()
            self.work = os.path.join(self.root, "work")
            shutil.rmtree(self.work, ignore_errors=True)
            os.makedirs(self.work)
            self.addCleanup(shutil.rmtree, self.work, True)
            self.addCleanup(shutil.rmtree, os.path.join(self.root, "root", ".cache", "regcache"), True)
            built, emulator = build_or_skip(self, self.arch)
            binary = os.path.join(self.root, "usr", "local", "bin", "regcache")
            shutil.copy(built, binary)
            self.addCleanup(os.remove, binary)
            self.program = ["regcache"]
            if emulator:
                name = os.path.basename(emulator)
                shutil.copy(emulator, os.path.join(self.root, "usr", "local", "bin", name))
                self.addCleanup(os.remove, os.path.join(self.root, "usr", "local", "bin", name))
                self.program = ["/usr/local/bin/" + name, "/usr/local/bin/regcache"]
            s = services()
            ca_dir = os.path.join(self.root, "etc", "ssl", "certs")
            os.makedirs(ca_dir, exist_ok=True)
            shutil.copy(s["REG_CA"], os.path.join(ca_dir, "ca-certificates.crt"))
            self.addCleanup(os.remove, os.path.join(ca_dir, "ca-certificates.crt"))
            with open(os.path.join(self.root, "etc", "hosts"), "w") as f:
                f.write("127.0.0.1 localhost\n")
            self.registry = "localhost:" + s["REG_BASIC"].rsplit(":", 1)[1]
            self.creds = {"REGCACHE_USERNAME": s["REG_BASIC_USER"], "REGCACHE_PASSWORD": s["REG_BASIC_PASSWORD"]}

        def inside(self, *args, env=None):
            """Runs regcache in the bullseye root, without HOME."""
            full_env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
            full_env.update(env or {})
            r = subprocess.run([shutil.which("chroot"), self.root, *self.program, *args], env=full_env, capture_output=True,
                               text=True, timeout=180, cwd="/")
            return r.returncode, r.stdout, r.stderr

        def round_trip(self, *store_args, env=None):
            src = os.path.join(self.work, "src")
            if not os.path.exists(src):
                make_small_tree(src)
            before = snapshot(src)
            rc, out, err = self.inside(*store_args, "save", "--key", "old-debian", "/work/src", env=env)
            self.assertEqual(rc, 0, err)
            shutil.rmtree(src)
            rc, out, err = self.inside(*store_args, "restore", "--key", "old-debian", "/work/src", env=env)
            self.assertEqual(rc, 0, err)
            self.assertEqual(diff_snapshots(before, snapshot(src)), "")

        def test_the_root_is_older_than_the_glibc_the_binary_was_linked_with(self):
            older = glibc_version([shutil.which("chroot"), self.root, "ldd"])
            here = glibc_version(["ldd"])
            self.assertIsNotNone(older)
            self.assertLess(older, here)

        def test_the_default_store_under_the_passwd_home(self):
            self.round_trip()
            self.assertTrue(os.path.exists(os.path.join(self.root, "root", ".cache", "regcache", "index.json")))

        def test_https_by_name_with_the_systems_ca_path(self):
            self.round_trip("--store", f"{self.registry}/{unique_repo('bullseye')}", env=self.creds)


class OlderDebianX86_64Test(Cases.OlderDebianCases):
    arch = "x86_64"


class OlderDebianArm64UnderQemuTest(Cases.OlderDebianCases):
    arch = "arm64"


if __name__ == "__main__":
    unittest.main()
