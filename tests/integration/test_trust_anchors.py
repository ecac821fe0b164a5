"""The TLS trust anchors are parsed once per run, whatever the number of connections.

libcurl keeps a parsed CA bundle per multi handle, and each of regcache's connections is an
easy handle with its own, so left to itself it parses the bundle once per connection; a
system bundle costs OpenSSL 3 tens of milliseconds of CPU each time, and a restore opens up
to 16 connections (docs/decisions.md, "One parse of the CA bundle"). regcache parses the
anchors once and hands them to every connection. What is shown here: the bundle is opened
once by a save and by a restore that open several connections, trust still holds (a hashed
directory works, anchors that do not include the registry's CA are refused), and a bundle
that cannot be parsed is named in a one-line error."""
import os
import re
import shutil
import subprocess
import unittest

from common import BIN, RegcacheTestCase, clean_env, make_small_tree, services, snapshot

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@unittest.skipIf(services() is None, "needs the test registries (tests/harness/services.py)")
class TrustAnchorsTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        self.st = self.store("basic")
        self.reg_ca = self.st.env["REGCACHE_CA_FILE"]
        self.port = self.st.host.rsplit(":", 1)[1]
        # A bundle as users have: the system's anchors, and the one that signed the registry.
        self.bundle = os.path.join(self.tmp, "bundle.pem")
        with open(self.bundle, "wb") as out:
            if os.path.exists(SYSTEM_BUNDLE):
                with open(SYSTEM_BUNDLE, "rb") as f:
                    out.write(f.read())
            with open(self.reg_ca, "rb") as f:
                out.write(f.read())
        self.env = {**self.st.env, "REGCACHE_CA_FILE": self.bundle, "REGCACHE_JOBS": "8"}

    def assertOneLineError(self, rc, out, err, code, mention):
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertEqual(rc, code, err)
        self.assertEqual(len(lines), 1, f"expected one line on stderr, got: {err!r}")
        self.assertIn(mention.lower(), lines[0].lower())
        self.assertEqual(out.strip(), "")
        self.assertNotIn(self.st.env["REGCACHE_PASSWORD"], out + err)

    def traced(self, *args, cwd):
        """Runs regcache under strace; returns (opens of the bundle, connections to the registry)."""
        if shutil.which("strace") is None:
            self.skipTest("needs strace (scripts/install-deps.sh --test installs it)")
        log = os.path.join(self.tmp, "strace.log")
        cmd = ["strace", "-f", "-qq", "-e", "trace=openat,connect", "-o", log, BIN, "--store", self.st.ref, *args]
        p = subprocess.run(cmd, cwd=cwd, env=clean_env(self.home, self.env, self.tmpdir),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        opens = [ln for ln in lines if "openat(" in ln and f'"{self.bundle}"' in ln]
        connects = [ln for ln in lines if "connect(" in ln and re.search(rf"sin6?_port=htons\({self.port}\)", ln)]
        return len(opens), len(connects)

    def test_the_bundle_is_parsed_once_per_save_and_per_restore(self):
        tree = os.path.join(self.ws, "cache")
        make_small_tree(tree)
        for i in range(6):  # several blobs, so that the transfers spread over connections
            with open(os.path.join(tree, f"blob{i}.bin"), "wb") as f:
                f.write(os.urandom(3 << 20))
        before = snapshot(tree)
        opens, connects = self.traced("save", "--key", "k", "cache", cwd=self.ws)
        self.assertGreaterEqual(connects, 3, "the save made too few connections to show anything")
        self.assertEqual(opens, 1, f"the save opened the CA bundle {opens} times for {connects} connections")

        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        opens, connects = self.traced("restore", "--key", "k", cwd=other)
        self.assertGreaterEqual(connects, 3, "the restore made too few connections to show anything")
        self.assertEqual(opens, 1, f"the restore opened the CA bundle {opens} times for {connects} connections")
        self.assertEqual(before, snapshot(os.path.join(other, "cache")))

    def hashed_dir(self, name, *certs):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        for i, c in enumerate(certs):
            shutil.copy(c, os.path.join(d, f"ca{i}.pem"))
        subprocess.run(["openssl", "rehash", d], check=True, stdout=subprocess.DEVNULL)
        return d

    def test_a_hashed_directory_of_anchors_is_trusted_and_only_for_its_anchors(self):
        if shutil.which("openssl") is None:
            self.skipTest("needs the openssl command (scripts/install-deps.sh --test installs it)")
        make_small_tree(os.path.join(self.ws, "cache"))
        env = {k: v for k, v in self.st.env.items() if k != "REGCACHE_CA_FILE"}
        good = self.hashed_dir("good", self.reg_ca)
        rc, out, err = self.regcache("--store", self.st.ref, "save", "--key", "k", "cache",
                                     env={**env, "SSL_CERT_DIR": good})
        self.assertEqual(rc, 0, err)

        # Anchors that exist but did not sign the registry's certificate: refused, and no
        # fallback to the system's anchors.
        other_ca = os.path.join(self.tmp, "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", os.path.join(self.tmp, "other.key"), "-out", other_ca,
                        "-subj", "/CN=not the registry's CA", "-days", "2"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wrong = self.hashed_dir("wrong", other_ca)
        for extra in ({"SSL_CERT_DIR": wrong}, {"REGCACHE_CA_FILE": other_ca}):
            with self.subTest(anchors=extra):
                dest = os.path.join(self.tmp, "dest-" + next(iter(extra)))
                os.makedirs(dest)
                rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k", env={**env, **extra},
                                             cwd=dest)
                self.assertOneLineError(rc, out, err, 1, "certificate")
                # It names the host and the anchors that refused it.
                self.assertIn(f"TLS certificate of {self.st.host} is not trusted by {next(iter(extra.values()))}", err)
                self.assertEqual(os.listdir(dest), [])

    def test_a_bundle_that_cannot_be_parsed_is_named(self):
        bad = os.path.join(self.tmp, "not-pem.crt")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("this is no certificate\n")
        make_small_tree(os.path.join(self.ws, "cache"))
        env = {**self.st.env, "REGCACHE_CA_FILE": bad}
        for args in (["save", "--key", "k", "cache"], ["restore", "--key", "k"]):
            with self.subTest(command=args[0]):
                rc, out, err = self.regcache("--store", self.st.ref, *args, env=env)
                self.assertOneLineError(rc, out, err, 2, bad)
        self.assertEqual(self.list_keys(self.st), [])


if __name__ == "__main__":
    unittest.main()
