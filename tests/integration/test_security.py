"""Security hardening (docs/security.md): another local user on a shared runner, a layout
others can write, credential helpers that hang, and entries that try to write commands
into a CI log. Runs as root where it plays the other user (uid 65534), and skips those
cases otherwise."""
import concurrent.futures
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import time
import unittest

from common import BIN, RegcacheTestCase, clean_env, make_small_tree, parse_json, services, snapshot

NOBODY = 65534


def is_root():
    return os.geteuid() == 0


def rewrite_manifest(layout, tag, change):
    """Applies change(manifest dict) to the manifest tagged `tag` in a layout, in place."""
    index_path = os.path.join(layout, "index.json")
    with open(index_path) as f:
        index = json.load(f)
    entry = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag][0]
    with open(os.path.join(layout, "blobs", "sha256", entry["digest"][7:]), "rb") as f:
        manifest = json.load(f)
    change(manifest)
    raw = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest[7:]), "wb") as f:
        f.write(raw)
    entry["digest"], entry["size"] = digest, len(raw)
    with open(index_path, "w") as f:
        json.dump(index, f)
    return manifest


class PlantedLinkTest(RegcacheTestCase):
    """(1) A symlink above a destination, planted by another user, is not followed."""

    def setUp(self):
        super().setUp()
        if not is_root():
            self.skipTest("needs root to play another user")
        self.st = self.store("layout")
        other_ws = os.path.join(self.tmp, "other-ws")
        make_small_tree(os.path.join(other_ws, "tools", "bin"))
        self.regcache("--store", self.st.ref, "--workspace", other_ws, "save", "--key", "k",
                      os.path.join(other_ws, "tools", "bin"), check=True)
        self.private = os.path.join(self.tmp, "root-only")
        os.makedirs(self.private, mode=0o700)
        self.link = os.path.join(self.ws, "tools")
        os.symlink(self.private, self.link)

    def test_another_users_link_is_refused(self):
        os.lchown(self.link, NOBODY, NOBODY)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k", "tools/bin")
        self.assertEqual(rc, 1, err)
        self.assertIn("refusing to follow symlink", err)
        self.assertIn("uid 65534", err)
        self.assertEqual(os.listdir(self.private), [], "the restore wrote through the planted link")
        self.assertNoLeftovers()

    def test_the_runners_own_link_is_followed(self):
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k", "tools/bin", check=True)
        self.assertEqual(sorted(os.listdir(os.path.join(self.private, "bin"))), ["a.txt", "sub"])


class SharedLayoutTest(RegcacheTestCase):
    """(4) A layout another user can write: planted links and FIFOs change nothing elsewhere
    and hang nothing."""

    def setUp(self):
        super().setUp()
        self.layout = os.path.join(self.tmp, "layout")
        make_small_tree(os.path.join(self.ws, "t"))
        self.regcache("--store", "oci:" + self.layout, "save", "--key", "k", "t", check=True)
        self.elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(self.elsewhere)

    def test_a_planted_lock_link_is_not_followed(self):
        lock = os.path.join(self.layout, ".regcache.lock")
        if os.path.exists(lock):
            os.unlink(lock)
        os.symlink(os.path.join(self.elsewhere, "created-by-root"), lock)
        rc, out, err = self.regcache("--store", "oci:" + self.layout, "save", "--key", "k2", "t")
        self.assertEqual(rc, 1, err)
        self.assertIn("cannot lock", err)
        self.regcache("--store", "oci:" + self.layout, "list", check=True)  # reading needs no lock
        self.assertEqual(os.listdir(self.elsewhere), [])

    def test_a_planted_blobs_link_is_not_followed(self):
        blobs = os.path.join(self.layout, "blobs", "sha256")
        shutil.move(blobs, os.path.join(self.tmp, "real-blobs"))
        os.symlink(self.elsewhere, blobs)
        make_small_tree(os.path.join(self.ws, "u"), b"other")
        rc, out, err = self.regcache("--store", "oci:" + self.layout, "save", "--key", "k2", "u")
        self.assertEqual(rc, 1, err)
        self.assertEqual(os.listdir(self.elsewhere), [], "a save wrote through blobs/sha256")

    def test_a_fifo_as_a_blob_fails_and_does_not_hang(self):
        with open(os.path.join(self.layout, "index.json")) as f:
            digest = json.load(f)["manifests"][0]["digest"]
        with open(os.path.join(self.layout, "blobs", "sha256", digest[7:])) as f:
            layer = json.load(f)["layers"][0]["digest"]
        path = os.path.join(self.layout, "blobs", "sha256", layer[7:])
        os.unlink(path)
        os.mkfifo(path)
        shutil.rmtree(os.path.join(self.ws, "t"))
        rc, out, err = self.regcache("--store", "oci:" + self.layout, "restore", "--key", "k", timeout=60)
        self.assertEqual(rc, 1, err)
        self.assertIn("not a regular file", err)
        self.assertFalse(os.path.exists(os.path.join(self.ws, "t")))

    def test_a_manifest_with_a_number_for_a_media_type(self):
        rewrite_manifest(self.layout, "k", lambda m: m.update(mediaType=1))
        rc, out, err = self.regcache("--store", "oci:" + self.layout, "--json", "restore", "--key", "k")
        self.assertEqual(rc, 1, err)
        self.assertIn("mediaType", parse_json(out)["error"])


class CredentialHelperTest(RegcacheTestCase):
    """(11) A credential helper runs bounded in time, with a minimal environment."""

    def helper(self, body):
        bin_dir = os.path.join(self.tmp, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        path = os.path.join(bin_dir, "docker-credential-test")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        docker = os.path.join(self.home, ".docker")
        os.makedirs(docker, exist_ok=True)
        with open(os.path.join(docker, "config.json"), "w") as f:
            json.dump({"credsStore": "test"}, f)
        return {"PATH": bin_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin")}

    def test_a_hanging_helper_does_not_outlast_the_timeout(self):
        env = self.helper("sleep 120\n")
        store = services()["REG_OPEN"] + "/security/helper"
        # The helper outlasts the call's timeout: a result at all shows the restore did not wait.
        rc, out, err = self.regcache("--store", store, "restore", "--key", "k", "--timeout", "2", env=env, timeout=100)
        self.assertIn("did not finish within 2s", err)

    def test_a_helper_sees_no_other_secret(self):
        seen = os.path.join(self.tmp, "helper-env")
        env = self.helper(f"env > {seen}\nexit 1\n")
        env.update({"GITHUB_TOKEN": "ghs_secret_token", "CI_JOB_TOKEN": "job-secret", "AWS_REGION": "eu-west-1"})
        store = services()["REG_OPEN"] + "/security/helper"
        self.regcache("--store", store, "restore", "--key", "k", env=env, check=True)
        with open(seen) as f:
            names = {line.split("=", 1)[0] for line in f.read().splitlines() if "=" in line}
        self.assertIn("HOME", names)
        self.assertIn("AWS_REGION", names)
        self.assertNotIn("GITHUB_TOKEN", names)
        self.assertNotIn("CI_JOB_TOKEN", names)


    def test_a_failing_helper_is_said_and_not_found_is_quiet(self):
        store = services()["REG_OPEN"] + "/security/helper"
        env = self.helper("echo 'error getting credentials - err: exit status 1, out: token expired' >&2\n"
                          "echo '{\"Secret\": \"never-shown\"}'\nexit 1\n")
        rc, out, err = self.regcache("--store", store, "restore", "--key", "k", env=env, check=True)
        self.assertIn("docker-credential-test get failed for", err)
        self.assertIn("token expired", err)
        self.assertIn("going on without its credentials", err)
        self.assertNotIn("never-shown", err + out)
        # A reply printed before failing, and a traced command: neither is shown.
        env = self.helper("echo '{\"Username\": \"x\", \"secret\": \"ghp_never_shown\"}'\nexit 1\n")
        rc, out, err = self.regcache("--store", store, "restore", "--key", "k", env=env, check=True)
        self.assertIn("docker-credential-test get failed for", err)
        self.assertNotIn("never_shown", err + out)
        env = self.helper("echo '+ TOKEN=ghp_never_shown' >&2\nexit 1\n")
        rc, out, err = self.regcache("--store", store, "restore", "--key", "k", env=env, check=True)
        self.assertIn("docker-credential-test get failed for", err)
        self.assertNotIn("never_shown", err + out)
        # A helper config.json names but this machine lacks: said, and the restore goes on.
        env = self.helper("exit 0\n")
        os.unlink(os.path.join(env["PATH"].split(":")[0], "docker-credential-test"))
        rc, out, err = self.regcache("--store", store, "restore", "--key", "k", env=env, check=True)
        self.assertIn("docker-credential-test get failed for", err)
        self.assertIn("it is not installed", err)
        # Half of the environment's credentials: said, not used.
        rc, out, err = self.regcache("--store", store, "restore", "--key", "k", env={"REGCACHE_USERNAME": "me"},
                                     check=True)
        self.assertIn("REGCACHE_USERNAME is set but REGCACHE_PASSWORD is not", err)
        env = self.helper("echo 'credentials not found in native keychain'\nexit 1\n")
        rc, out, err = self.regcache("--store", store, "restore", "--key", "k", env=env, check=True)
        self.assertNotIn("docker-credential-test", err)

class WorkspacePathTest(RegcacheTestCase):
    """A workspace's path is data: the rust preset's `cargo metadata` gets it as one
    argument, so quotes and `$(...)` in it (a checkout dir, GITHUB_WORKSPACE) run nothing."""

    def test_a_quote_in_the_workspace_runs_no_command(self):
        mark = os.path.join(self.tmp, "PWNED")
        ws = os.path.join(self.tmp, f"q'$(touch {mark})'x")
        os.makedirs(os.path.join(ws, "target", "debug"))
        with open(os.path.join(ws, "Cargo.toml"), "w") as f:
            f.write('[package]\nname = "demo"\nversion = "0.1.0"\n')
        with open(os.path.join(ws, "target", "debug", "demo"), "w") as f:
            f.write("binary")
        # A cargo of our own on PATH records the arguments it was given (and a rustc for the key).
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        argv_file = os.path.join(self.tmp, "cargo-argv")
        with open(os.path.join(bindir, "cargo"), "w") as f:
            f.write(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{argv_file}"\n'
                    'echo \'{"packages":[{"name":"demo","targets":[{"name":"demo"}]}]}\'\n')
        with open(os.path.join(bindir, "rustc"), "w") as f:
            f.write("#!/bin/sh\necho 'rustc 1.63.0'\necho 'host: x86_64-unknown-linux-gnu'\n")
        for tool in ("cargo", "rustc"):
            os.chmod(os.path.join(bindir, tool), 0o755)
        env = {"PATH": bindir + ":/usr/bin:/bin", "GITHUB_WORKSPACE": ws}
        store = "oci:" + os.path.join(self.tmp, "layout")
        rc, out, err = self.regcache("--store", store, "save", "--preset", "rust", env=env, cwd=ws)
        self.assertFalse(os.path.exists(mark), "a command in the workspace's path ran")
        self.assertEqual(rc, 0, err)
        with open(argv_file) as f:
            calls = f.read().splitlines()
        self.assertIn(os.path.join(ws, "Cargo.toml"), calls, "cargo got the manifest path whole")


class NoCoreTest(RegcacheTestCase):
    """regcache holds passwords, tokens and signing keys in memory: it is not dumpable, so a
    crash writes no core and another process of the same user cannot read its memory. The
    kernel shows it: /proc/PID of a process that is not dumpable belongs to root."""

    def test_the_process_is_not_dumpable(self):
        if not is_root():
            self.skipTest("needs root to run regcache as another user")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        env = clean_env(self.tmp, {"REGCACHE_LOOPBACK_TRANSPORT": "http", "REGCACHE_PASSWORD": "in-memory-only"})
        p = subprocess.Popen(["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups",
                              BIN, "--store", f"127.0.0.1:{port}/x/y", "restore", "--key", "k", "--timeout", "60"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.tmp)
        try:
            conn, _ = listener.accept()  # regcache is running and waiting for an answer
            self.addCleanup(conn.close)
            self.assertEqual(os.stat(f"/proc/{p.pid}/environ").st_uid, 0,
                             "regcache's /proc entries belong to its user: it is dumpable")
        finally:
            p.kill()
            p.wait()


class LogInjectionTest(RegcacheTestCase):
    """(13) An entry's key annotation cannot write workflow commands into the log."""

    def test_no_line_starts_a_runner_command(self):
        layout = os.path.join(self.tmp, "layout")
        make_small_tree(os.path.join(self.ws, "t"))
        self.regcache("--store", "oci:" + layout, "save", "--key", "k-1", "t", check=True)
        evil = "k-1\n::error title=pwned::owned\n::stop-commands::abc\n##[error]x"
        rewrite_manifest(layout, "k-1", lambda m: m["annotations"].update({"dev.regcache.key": evil}))
        shutil.rmtree(os.path.join(self.ws, "t"))
        outputs = []
        for args in (["-v", "restore", "--key", "k-2", "--restore-key", "k-"], ["list"], ["--json", "list"],
                     ["-v", "--json", "restore", "--key", "k-2", "--restore-key", "k-"]):
            rc, out, err = self.regcache("--store", "oci:" + layout, *args)
            outputs.append((args, out + err))
        for args, text in outputs:
            for line in text.splitlines():
                self.assertFalse(line.startswith("::") or line.startswith("##["), f"{args}: {line!r}")
            self.assertNotIn("\n::", text)
        self.assertTrue(any("k-1\\n::error" in text for _, text in outputs), "the key is shown, escaped")


if __name__ == "__main__":
    unittest.main()


class TricklingRegistryTest(RegcacheTestCase):
    """(9) A registry that sends a byte a second cannot keep a command busy: a transfer
    slower than 1 KiB/s over the stall window is cut, and every command has a deadline."""

    def serve(self):
        import http.server
        import threading

        class Trickle(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.rstrip("/") == "/v2":
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    for _ in range(100000):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(1)
                except OSError:
                    pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
        server.daemon_threads = True
        server.handle_error = lambda request, address: None
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"127.0.0.1:{server.server_address[1]}/trickle/cache"

    def test_a_trickle_is_cut(self):
        store = self.serve()
        # Five attempts, each cut after the 1 s stall window.
        env = {"REGCACHE_STALL_TIMEOUT": "1", "REGCACHE_RETRY_DELAY_MS": "1"}
        rc, out, err = self.regcache("--store", store, "list", env=env, timeout=120)
        self.assertEqual(rc, 1, err)
        self.assertIn("less than 1 KiB/s", err)

    def test_every_command_has_a_deadline(self):
        store = self.serve()
        dest = os.path.join(self.tmp, "from-image")
        commands = (["list", "--timeout", "3"], ["delete", "k", "--timeout", "3"],
                    ["prune", "--older-than", "1d", "--timeout", "3"],
                    ["restore", "--from-image", store + ":v1", "--path", dest, "--timeout", "3"])
        # The three commands wait out their budgets side by side.
        with concurrent.futures.ThreadPoolExecutor(len(commands)) as pool:
            results = list(pool.map(lambda args: self.regcache("--store", store, *args, timeout=120), commands))
        for args, (rc, out, err) in zip(commands, results):
            with self.subTest(command=args[0]):
                self.assertEqual(rc, 1, err)
                self.assertIn("time budget", err)
        self.assertFalse(os.path.exists(dest), "restore --from-image wrote something")
