"""The static regcache in an older distribution: a Debian 11 (bullseye, glibc 2.31, older
than the glibc it was linked with) root holding what the cases touch, unpacked from Debian's
archive and configured as the packages' own scripts would: the C library, nsswitch.conf and
base-passwd's /etc/passwd (which a static getpwuid reads itself: glibc 2.34 and later build
the files module into libc), bash for ldd. Inside it, without HOME, regcache finds the home
directory in that system's /etc/passwd and its default store under it, and saves and
restores over HTTPS by name against the test registry. The root is kept in the build
directory and reused by later runs. The arm64 binary (make static-arm64) passes the same
cases in the same root under qemu-user-static."""

import os
import re
import shutil
import stat
import subprocess
import unittest

from common import RegcacheTestCase, diff_snapshots, make_small_tree, services, snapshot, unique_repo
from test_static import build_or_skip

SUITE = "bullseye"


def mirror():
    """The machine's own Debian mirror (its apt sources), else deb.debian.org."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            continue
        m = re.search(r"^URIs:\s*(\S+)", text, re.M) or re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M)
        if m and "security" not in m.group(1):
            return m.group(1)
    return "http://deb.debian.org/debian"


# What the cases touch: the C library (its version, ldd, nsswitch.conf, the linker cache),
# bash (ldd is a bash script) and what they link, the passwd and group files.
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
PACKAGES = ("libc6", "libc-bin", "libgcc-s1", "libcrypt1", "bash", "libtinfo6", "base-files", "base-passwd")


class RootError(Exception):
    pass


def make_root(root, apt_dir):
    """Unpacks PACKAGES from SUITE into ROOT through a private apt state in APT_DIR (removed
    afterwards), then does what their maintainer scripts do for these files: base-passwd's
    passwd and group, libc-bin's nsswitch.conf and linker cache, and the device nodes
    debootstrap makes. On any failure ROOT is removed; RootError says the archive failed."""
    try:
        os.makedirs(root)
        unpack(root, apt_dir)
        share = os.path.join(root, "usr", "share")
        for source, target in (("base-passwd/passwd.master", "etc/passwd"),
                               ("base-passwd/group.master", "etc/group"),
                               ("libc-bin/nsswitch.conf", "etc/nsswitch.conf")):
            shutil.copy(os.path.join(share, source), os.path.join(root, target))
        for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
            os.mknod(os.path.join(root, "dev", name), stat.S_IFCHR | 0o666, os.makedev(1, minor))
            os.chmod(os.path.join(root, "dev", name), 0o666)
        os.makedirs(os.path.join(root, "usr", "local", "bin"), exist_ok=True)
        subprocess.run([shutil.which("chroot"), root, "/sbin/ldconfig"], check=True, timeout=120)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(apt_dir, ignore_errors=True)


def unpack(root, apt_dir):
    """Downloads PACKAGES into APT_DIR with apt's state, lists and caches all under it (the
    machine's apt configuration, proxies included, still applies) and unpacks them into ROOT."""
    shutil.rmtree(apt_dir, ignore_errors=True)
    for d in ("lists/partial", "archives/partial", "debs"):
        os.makedirs(os.path.join(apt_dir, d))
    with open(os.path.join(apt_dir, "sources.list"), "w", encoding="utf-8") as f:
        f.write(f"deb [signed-by={KEYRING}] {mirror()} {SUITE} main\n")
    apt = ["apt-get", "-qq", "-o", f"Dir::Etc::SourceList={apt_dir}/sources.list",
           "-o", "Dir::Etc::SourceParts=/nonexistent", "-o", f"Dir::State::Lists={apt_dir}/lists",
           "-o", f"Dir::Cache={apt_dir}", "-o", f"Dir::Cache::Archives={apt_dir}/archives",
           "-o", "Dir::State::status=/dev/null", "-o", "APT::Default-Release=",
           "-o", "APT::Architecture=amd64", "-o", "APT::Architectures::=amd64", "-o", "Acquire::http::Timeout=30",
           "-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1"]
    debs = os.path.join(apt_dir, "debs")
    # update exits 0 on a failed download unless told otherwise; download would then fail
    # naming a package instead of the archive.
    for what, args in (("update", ["--error-on=any", "update"]), ("download", ["download", *PACKAGES])):
        try:
            r = subprocess.run(apt + args, cwd=debs, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            raise RootError(f"apt-get {what}: no answer in 600 s") from None
        if r.returncode != 0:
            lines = (r.stderr or r.stdout).strip().splitlines() or ["failed"]
            first = next((line for line in lines if line.startswith("E: ")), lines[-1])
            raise RootError(f"apt-get {what}: {first}")
    for name in sorted(os.listdir(debs)):
        subprocess.run(["dpkg-deb", "-x", os.path.join(debs, name), root], check=True, timeout=120)


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
                raise unittest.SkipTest("chroot and device nodes need root")
            build_dir = os.path.dirname(os.path.abspath(services()["SERVICES_DIR"]))
            root = os.path.join(build_dir, f"{SUITE}-root")
            if not os.path.exists(os.path.join(root, ".complete")):
                shutil.rmtree(root, ignore_errors=True)
                try:
                    make_root(root, os.path.join(build_dir, f"{SUITE}-apt"))
                except RootError as e:
                    raise unittest.SkipTest(f"no {SUITE} root from {mirror()}: {e}")
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
