"""Shared helpers for regcache's integration tests.

The tests run the built binary ($REGCACHE_BIN) against real registries started by
tests/harness/services.py (their addresses in $REGCACHE_SERVICES_DIR/services.json)
and against local OCI image layouts. Only the Python standard library is used.

Running by hand:
    tests/harness/services.py start --dir /tmp/svc
    cd tests/integration
    REGCACHE_SERVICES_DIR=/tmp/svc REGCACHE_BIN=../../build/regcache \
        /usr/bin/python3 -m unittest -v test_save_restore
    tests/harness/services.py stop --dir /tmp/svc
"""

import base64
import hashlib
import json
import os
import shutil
import ssl
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("REGCACHE_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("REGCACHE_BIN") or os.path.join(SOURCE_DIR, "build", "regcache")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ANNO_CREATED = "org.opencontainers.image.created"
ANNO_KEY = "dev.regcache.key"

BACKENDS = ("layout", "open", "basic", "token")

# ---------------------------------------------------------------------------------------
# Services


_services = None


def services():
    """The harness's variables (services.json). Skips the test when no services run."""
    global _services
    if _services is None:
        d = os.environ.get("REGCACHE_SERVICES_DIR")
        if not d:
            raise unittest.SkipTest(
                "REGCACHE_SERVICES_DIR is not set; start tests/harness/services.py start --dir DIR")
        path = os.path.join(d, "services.json")
        with open(path, encoding="utf-8") as f:
            _services = json.load(f)
    return _services


# ---------------------------------------------------------------------------------------
# Running regcache

# Variables passed through from the outer environment; everything else (REGCACHE_*,
# CI variables naming a workspace, DOCKER_CONFIG, SSL_CERT_FILE, XDG_*) is left out.
_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def clean_env(home, env_extra=None, tmpdir=None):
    env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env["HOME"] = home
    if tmpdir:
        env["TMPDIR"] = tmpdir
    for k, v in (env_extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def wait_for_binary(timeout=120):
    """The binary may be rebuilt under us; wait for it to reappear."""
    deadline = time.monotonic() + timeout
    while not os.access(BIN, os.X_OK):
        if time.monotonic() > deadline:
            raise AssertionError(f"regcache binary {BIN} is missing")
        time.sleep(1)


def run(args, env_extra=None, cwd=None, check=None, home=None, tmpdir=None, timeout=180, input=None):
    """Runs regcache with a clean environment. Returns (rc, stdout, stderr) as text.

    check: None (no check), True (rc must be 0) or an int (rc must equal it).
    home: the HOME to use (a fresh temporary one when None).
    """
    own_home = None
    if home is None:
        own_home = home = tempfile.mkdtemp(prefix="regcache-home-")
    try:
        for attempt in range(3):
            wait_for_binary()
            try:
                p = subprocess.run([BIN] + [str(a) for a in args], cwd=cwd, env=clean_env(home, env_extra, tmpdir),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                                   input=input.encode() if isinstance(input, str) else input)
                break
            except OSError:
                # ETXTBSY / ENOENT while the binary is being replaced
                if attempt == 2:
                    raise
                time.sleep(2)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        if check is not None:
            want = 0 if check is True else check
            if p.returncode != want:
                raise AssertionError(
                    f"regcache {' '.join(map(str, args))}: exit {p.returncode}, expected {want}\n"
                    f"stdout: {out}\nstderr: {err}")
        return p.returncode, out, err
    finally:
        if own_home:
            shutil.rmtree(own_home, ignore_errors=True)


def parse_json(stdout):
    """stdout must hold exactly one JSON value (save/restore: an object, list: an array)."""
    text = stdout.strip()
    if not text:
        raise AssertionError("expected JSON on stdout, got nothing")
    if "\n" in text:
        raise AssertionError(f"expected one JSON line on stdout, got: {stdout!r}")
    return json.loads(text)


# ---------------------------------------------------------------------------------------
# Trees

MIB = 1024 * 1024
BASE_NS = 1_600_000_000_123_456_789


def write_file(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def set_dir_mtimes(root, base_ns=BASE_NS + 900_000_000_000):
    """Gives every directory under root (root included) an explicit nanosecond mtime,
    deepest first so setting one does not disturb another."""
    dirs = []
    for dirpath, dirnames, _ in os.walk(root):
        dirs.append(dirpath)
    dirs.sort(key=lambda d: d.count(os.sep), reverse=True)
    for i, d in enumerate(dirs):
        ns = base_ns + i * 1_000_003_001
        os.utime(d, ns=(ns, ns), follow_symlinks=False)


def make_tree(root, big=True, seed=0):
    """Creates a varied tree at root (which must not exist or be empty). Returns root."""
    os.makedirs(root, exist_ok=True)
    rnd = __import__("random").Random(seed)
    files = {
        "empty.txt": (b"", 0o644),
        "one-byte": (b"x", 0o644),
        "small.txt": (b"hello regcache\n", 0o644),
        "block-4095.bin": (bytes(rnd.getrandbits(8) for _ in range(4095)), 0o644),
        "block-4096.bin": (b"\0" * 4096, 0o644),
        "nested/a/b/c/deep.txt": (b"deep file\n" * 100, 0o644),
        "nested/text-64k.txt": (b"".join(b"line %06d of a compressible file\n" % i for i in range(2000)), 0o644),
        "bin/tool.sh": (b"#!/bin/sh\necho tool\n", 0o755),
        "secret/key.pem": (b"-----BEGIN NOT A KEY-----\n", 0o600),
        "données/été.txt": ("contenu non-ASCII : ça marche\n".encode("utf-8"), 0o644),
        ("long/" + "d" * 80 + "/" + "f" * 90 + ".bin"): (b"long path\n", 0o644),
        "links/hard-a": (b"hard linked content\n", 0o644),
    }
    if big:
        files["big/random-3mib.bin"] = (os.urandom(3 * MIB + 12345), 0o644)
    for rel, (data, mode) in files.items():
        write_file(os.path.join(root, rel), data, mode)
    # A hard link pair (in different directories).
    os.makedirs(os.path.join(root, "nested/hl"), exist_ok=True)
    os.link(os.path.join(root, "links/hard-a"), os.path.join(root, "nested/hl/hard-b"))
    # Relative symlinks: to a file and to a directory, both inside the tree.
    os.symlink("../données/été.txt", os.path.join(root, "links/rel-file"))
    os.symlink("../nested", os.path.join(root, "links/rel-dir"))
    # Empty directories.
    os.makedirs(os.path.join(root, "empty-dir"), exist_ok=True)
    os.makedirs(os.path.join(root, "nested/empty-inner"), exist_ok=True)
    # A directory with mode 0750.
    os.makedirs(os.path.join(root, "private/data"), exist_ok=True)
    write_file(os.path.join(root, "private/data/x.txt"), b"x\n", 0o640)
    os.chmod(os.path.join(root, "private"), 0o750)
    # Explicit nanosecond mtimes on every non-directory (symlinks included).
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if not os.path.isdir(p) or os.path.islink(p):
                entries.append(p)
    entries.sort()
    for i, p in enumerate(entries):
        ns = BASE_NS + i * 1_000_000_007 + (i * 7919) % 1_000_000_000
        os.utime(p, ns=(ns, ns), follow_symlinks=False)
    # Some unusual timestamps: exactly on a second, and before 2000.
    os.utime(os.path.join(root, "one-byte"), ns=(1_500_000_000_000_000_000,) * 2)
    os.utime(os.path.join(root, "small.txt"), ns=(315_532_800_500_000_001,) * 2)
    set_dir_mtimes(root)
    return root


def make_small_tree(root, content=b"v1", seed_ns=BASE_NS):
    """A few files, for tests where variety does not matter."""
    os.makedirs(os.path.join(root, "sub"), exist_ok=True)
    write_file(os.path.join(root, "a.txt"), b"a: " + content + b"\n")
    write_file(os.path.join(root, "sub/b.txt"), b"b: " + content + b"\n" * 10)
    os.utime(os.path.join(root, "a.txt"), ns=(seed_ns, seed_ns))
    os.utime(os.path.join(root, "sub/b.txt"), ns=(seed_ns + 1, seed_ns + 1))
    set_dir_mtimes(root, seed_ns + 10)
    return root


def snapshot(root, exclude=()):
    """Describes a tree exactly: rel path -> (type, mode, size, mtime_ns, sha256-or-target,
    hardlink group). The root itself is '.'. Directory sizes are left out (fs-dependent).
    The hardlink group is the smallest path of the paths sharing an inode, or None."""
    out = {}
    inodes = {}

    def visit(path, rel):
        st = os.lstat(path)
        m = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", m, None, st.st_mtime_ns, None)
            for name in sorted(os.listdir(path)):
                crel = name if rel == "." else rel + "/" + name
                if crel in exclude:
                    continue
                visit(os.path.join(path, name), crel)
        elif stat.S_ISLNK(st.st_mode):
            out[rel] = ("symlink", None, None, st.st_mtime_ns, os.readlink(path))
        elif stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            out[rel] = ("file", m, st.st_size, st.st_mtime_ns, h.hexdigest())
            inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
        else:
            out[rel] = ("other", m, None, st.st_mtime_ns, None)

    visit(root, ".")
    group = {}
    for paths in inodes.values():
        if len(paths) > 1:
            for p in paths:
                group[p] = min(paths)
    return {k: v + (group.get(k),) for k, v in out.items()}


def diff_snapshots(a, b):
    """A readable description of how two snapshots differ ('' when equal)."""
    lines = []
    for k in sorted(set(a) | set(b)):
        if k not in a:
            lines.append(f"+ {k}: {b[k]}")
        elif k not in b:
            lines.append(f"- {k}: {a[k]}")
        elif a[k] != b[k]:
            lines.append(f"~ {k}: {a[k]} != {b[k]}")
    return "\n".join(lines[:40]) + ("\n..." if len(lines) > 40 else "")


def find_leftovers(*dirs):
    """Paths named like regcache staging/temporary files under dirs."""
    found = []
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for dirpath, dirnames, filenames in os.walk(d):
            for n in dirnames + filenames:
                if n.startswith(".regcache-stage-") or n.startswith(".regcache-upload-"):
                    found.append(os.path.join(dirpath, n))
    return found


# ---------------------------------------------------------------------------------------
# Reading and writing stores directly (no regcache involved)


class RegistryClient:
    """A minimal OCI distribution client: Basic or Bearer auth, HTTP or HTTPS."""

    def __init__(self, host, repo, scheme="http", user=None, password=None, cafile=None):
        self.host, self.repo, self.scheme = host, repo, scheme
        self.user, self.password = user, password
        self.ctx = ssl.create_default_context(cafile=cafile) if scheme == "https" else None
        self.tokens = {}
        self.auth_header = None

    def url(self, path):
        return f"{self.scheme}://{self.host}/v2/{self.repo}/{path}"

    def _token(self, challenge, scope):
        params = {}
        for part in challenge[len("Bearer "):].split(","):
            k, _, v = part.strip().partition("=")
            params[k] = v.strip('"')
        q = {"service": params.get("service", "")}
        q["scope"] = scope
        req = urllib.request.Request(params["realm"] + "?" + urllib.parse.urlencode(q))
        if self.user:
            req.add_header("Authorization", "Basic " + base64.b64encode(
                f"{self.user}:{self.password}".encode()).decode())
        with urllib.request.urlopen(req, timeout=30, context=self.ctx) as r:
            body = json.load(r)
        return body.get("token") or body.get("access_token")

    def request(self, method, url, data=None, headers=None, scope_actions="pull,push,delete"):
        headers = dict(headers or {})
        for attempt in range(2):
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            if self.auth_header:
                req.add_header("Authorization", self.auth_header)
            try:
                with urllib.request.urlopen(req, timeout=60, context=self.ctx) as r:
                    return r.status, dict(r.headers), r.read()
            except urllib.error.HTTPError as e:
                body = e.read()
                if e.code == 401 and attempt == 0:
                    ch = e.headers.get("WWW-Authenticate", "")
                    if ch.startswith("Basic"):
                        self.auth_header = "Basic " + base64.b64encode(
                            f"{self.user}:{self.password}".encode()).decode()
                        continue
                    if ch.startswith("Bearer"):
                        scope = f"repository:{self.repo}:{scope_actions}"
                        self.auth_header = "Bearer " + self._token(ch, scope)
                        continue
                return e.code, dict(e.headers), body
        raise AssertionError("unreachable")

    def get_manifest(self, ref):
        st, h, body = self.request("GET", self.url(f"manifests/{ref}"), headers={
            "Accept": OCI_MANIFEST + ", application/vnd.docker.distribution.manifest.v2+json"})
        if st == 404:
            return None
        assert st == 200, f"GET manifest {ref}: HTTP {st} {body[:300]!r}"
        return body

    def get_blob(self, digest):
        st, h, body = self.request("GET", self.url(f"blobs/{digest}"))
        assert st == 200, f"GET blob {digest}: HTTP {st}"
        return body

    def has_blob(self, digest):
        st, _, _ = self.request("HEAD", self.url(f"blobs/{digest}"))
        return st == 200

    def put_blob(self, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        st, h, body = self.request("POST", self.url("blobs/uploads/"), data=b"")
        assert st == 202, f"POST upload: HTTP {st} {body[:300]!r}"
        loc = h.get("Location") or h.get("location")
        if loc.startswith("/"):
            loc = f"{self.scheme}://{self.host}{loc}"
        sep = "&" if "?" in loc else "?"
        st, h, body = self.request("PUT", loc + sep + "digest=" + urllib.parse.quote(digest), data=data,
                                   headers={"Content-Type": "application/octet-stream"})
        assert st == 201, f"PUT blob: HTTP {st} {body[:300]!r}"
        return digest

    def put_manifest(self, tag, data, media_type=OCI_MANIFEST):
        st, h, body = self.request("PUT", self.url(f"manifests/{tag}"), data=data,
                                   headers={"Content-Type": media_type})
        assert st in (200, 201), f"PUT manifest {tag}: HTTP {st} {body[:500]!r}"
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def tags(self):
        st, h, body = self.request("GET", self.url("tags/list?n=1000"))
        if st == 404:
            return []
        assert st == 200, f"GET tags: HTTP {st}"
        return json.loads(body).get("tags") or []


class LayoutClient:
    """Reads and writes an OCI image layout directory directly."""

    def __init__(self, path):
        self.path = path

    def index(self):
        p = os.path.join(self.path, "index.json")
        if not os.path.exists(p):
            return {"manifests": []}
        with open(p, encoding="utf-8") as f:
            return json.load(f)

    def blob_path(self, digest):
        return os.path.join(self.path, "blobs", "sha256", digest.split(":", 1)[1])

    def tags(self):
        return [m["annotations"]["org.opencontainers.image.ref.name"] for m in self.index()["manifests"]
                if "org.opencontainers.image.ref.name" in m.get("annotations", {})]

    def get_manifest(self, ref):
        digest = None
        for m in self.index()["manifests"]:
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref:
                digest = m["digest"]
        if digest is None:
            return None
        return self.get_blob(digest)

    def get_blob(self, digest):
        with open(self.blob_path(digest), "rb") as f:
            return f.read()

    def has_blob(self, digest):
        return os.path.exists(self.blob_path(digest))


class StoreUnderTest:
    """One store a test saves into: its --store reference, the environment regcache
    needs for it, and a direct client to inspect it."""

    def __init__(self, backend, ref, env, client, host=None, repo=None):
        self.backend, self.ref, self.env, self.client = backend, ref, env, client
        self.host, self.repo = host, repo

    def manifest(self, tag):
        raw = self.client.get_manifest(tag)
        return None if raw is None else json.loads(raw)

    def __repr__(self):
        return f"<store {self.backend} {self.ref}>"


def unique_repo(prefix="test"):
    return f"{prefix}/{uuid.uuid4().hex}"


def make_store(backend, tmp, repo=None):
    """A fresh store of the given backend ('layout', 'open', 'basic', 'token')."""
    repo = repo or unique_repo()
    if backend == "layout":
        path = os.path.join(tmp, "store-" + uuid.uuid4().hex[:8])
        return StoreUnderTest(backend, "oci:" + path, {}, LayoutClient(path))
    s = services()
    if backend == "open":
        host = s["REG_OPEN"]
        return StoreUnderTest(backend, f"{host}/{repo}", {}, RegistryClient(host, repo), host, repo)
    if backend == "basic":
        host = s["REG_BASIC"]
        env = {"REGCACHE_USERNAME": s["REG_BASIC_USER"], "REGCACHE_PASSWORD": s["REG_BASIC_PASSWORD"],
               "REGCACHE_CA_FILE": s["REG_CA"]}
        client = RegistryClient(host, repo, "https", s["REG_BASIC_USER"], s["REG_BASIC_PASSWORD"], s["REG_CA"])
        return StoreUnderTest(backend, f"{host}/{repo}", env, client, host, repo)
    if backend == "token":
        host = s["REG_TOKEN"]
        env = {"REGCACHE_USERNAME": s["REG_TOKEN_USER"], "REGCACHE_PASSWORD": s["REG_TOKEN_PASSWORD"]}
        client = RegistryClient(host, repo, "http", s["REG_TOKEN_USER"], s["REG_TOKEN_PASSWORD"])
        return StoreUnderTest(backend, f"{host}/{repo}", env, client, host, repo)
    raise ValueError(backend)


def tree_listing(root):
    """Every path under root (relative), for 'nothing was written' checks."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


# ---------------------------------------------------------------------------------------
# Base test case


class RegcacheTestCase(unittest.TestCase):
    """Gives each test a temporary directory with a workspace (the default cwd), a HOME
    and a TMPDIR, removed afterwards."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="regcache-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.ws = os.path.join(self.tmp, "ws")
        self.home = os.path.join(self.tmp, "home")
        self.tmpdir = os.path.join(self.tmp, "tmpdir")
        for d in (self.ws, self.home, self.tmpdir):
            os.makedirs(d)

    def regcache(self, *args, env=None, cwd=None, check=None, home=None, timeout=180):
        """Runs regcache in the test's workspace with the test's HOME and TMPDIR."""
        return run(list(args), env_extra=env, cwd=cwd or self.ws, check=check, home=home or self.home,
                   tmpdir=self.tmpdir, timeout=timeout)

    def store(self, backend, repo=None):
        return make_store(backend, self.tmp, repo)

    # save/restore shortcuts against a StoreUnderTest, returning the parsed JSON
    def save(self, store, key, *paths, extra=(), check=True, cwd=None, home=None, env=None):
        e = dict(store.env)
        e.update(env or {})
        rc, out, err = self.regcache("--store", store.ref, "--json", "save", "--key", key, *extra, *paths,
                                     env=e, check=check, cwd=cwd, home=home)
        return parse_json(out) if rc == 0 else (rc, out, err)

    def restore(self, store, key, *paths, extra=(), check=True, cwd=None, home=None, env=None):
        e = dict(store.env)
        e.update(env or {})
        rc, out, err = self.regcache("--store", store.ref, "--json", "restore", "--key", key, *extra, *paths,
                                     env=e, check=check, cwd=cwd, home=home)
        return parse_json(out) if rc == 0 else (rc, out, err)

    def list_keys(self, store, env=None):
        e = dict(store.env)
        e.update(env or {})
        _, out, _ = self.regcache("--store", store.ref, "--json", "list", env=e, check=True)
        return parse_json(out)

    def assertTreeEqual(self, expected, actual, msg=""):
        if expected != actual:
            self.fail(f"{msg} trees differ:\n{diff_snapshots(expected, actual)}")

    def assertNoLeftovers(self, *dirs):
        left = find_leftovers(*(dirs or (self.tmp,)))
        self.assertEqual(left, [], "regcache left staging or temporary files behind")
