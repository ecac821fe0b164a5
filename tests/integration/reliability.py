"""Helpers for the reliability tests (issue 6): test_crash.py and test_concurrency.py.

- Procs: starts regcache processes in the background (own process group each) and kills
  and reaps whatever is left when the test ends.
- make_crash_tree / churn_tree: a seeded tree of a few hundred small files and a few
  1 MiB random files (with modes, symlinks, an empty directory, nanosecond mtimes).
- check_layout / check_registry: read a store directly (no regcache involved) and verify
  every tagged entry: the manifest, its config and every layer exist and match their
  digests and sizes. They return {tag: manifest digest} of the cache entries (other
  artifacts, with an artifactType, are verified but left out) or raise AssertionError.
- layout_strays: files in a layout that are neither layout files nor finished blobs.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import time

from common import (ANNO_KEY, BIN, OCI_MANIFEST, RegistryClient, clean_env, parse_json, set_dir_mtimes,
                    wait_for_binary, write_file)

REF_NAME = "org.opencontainers.image.ref.name"
HEX64 = re.compile(r"^[0-9a-f]{64}$")

# ---------------------------------------------------------------------------------------
# Processes


class Proc:
    """One regcache process started in the background; keeps its command line for messages."""

    def __init__(self, args, popen, started):
        self.args, self.popen, self.started = args, popen, started
        self.rc = self.out = self.err = None
        self.seconds = None

    def wait(self, timeout=120):
        out, err = self.popen.communicate(timeout=timeout)
        self.seconds = time.monotonic() - self.started
        self.rc = self.popen.returncode
        self.out = out.decode("utf-8", "replace")
        self.err = err.decode("utf-8", "replace")
        return self.rc

    def kill(self):
        """SIGKILL (to the whole process group, in case regcache ever spawns children)."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def json(self):
        return parse_json(self.out)

    def describe(self):
        return (f"regcache {' '.join(self.args)}\n  exit {self.rc}\n  stdout: {self.out!r}\n"
                f"  stderr: {self.err!r}")


class Procs:
    """Starts regcache processes; cleanup() kills and reaps every one still running."""

    def __init__(self):
        self.all = []

    def start(self, args, home, cwd, tmpdir, env=None):
        wait_for_binary()
        args = [str(a) for a in args]
        p = subprocess.Popen([BIN] + args, cwd=cwd, env=clean_env(home, env, tmpdir),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        proc = Proc(args, p, time.monotonic())
        self.all.append(proc)
        return proc

    def cleanup(self):
        for p in self.all:
            p.kill()
        for p in self.all:
            try:
                p.popen.communicate(timeout=30)
            except Exception:
                pass
        self.all = []


# ---------------------------------------------------------------------------------------
# Trees


def make_crash_tree(root, rng, small=300, big=3, big_size=1 << 20):
    """A tree that takes regcache ~100-300 ms to save or restore with 256 KiB packs:
    `small` files of 100 B-8 KiB in 12 directories (modes 644/755/600), `big` random files,
    two relative symlinks, an empty directory, explicit nanosecond mtimes everywhere."""
    modes = (0o644, 0o644, 0o755, 0o600)
    for i in range(small):
        write_file(os.path.join(root, f"d{i % 12:02d}", f"f{i:04d}.txt"), rng.randbytes(rng.randint(100, 8000)),
               modes[i % len(modes)])
    for i in range(big):
        write_file(os.path.join(root, f"big{i}.bin"), rng.randbytes(big_size), 0o644)
    os.symlink("d00/f0000.txt", os.path.join(root, "link-file"))
    os.symlink("d01", os.path.join(root, "link-dir"))
    os.makedirs(os.path.join(root, "empty"), exist_ok=True)
    touch_all(root, rng)
    return root


def churn_tree(root, rng):
    """Rewrites one big file and one small file with new random content, so the next save
    has layers to compress and upload (and others it finds already stored)."""
    p = os.path.join(root, rng.choice(sorted(n for n in os.listdir(root) if n.startswith("big"))))
    write_file(p, rng.randbytes(os.path.getsize(p)), 0o644)
    write_file(os.path.join(root, "d03", "f0003.txt"), rng.randbytes(rng.randint(100, 8000)), 0o644)
    touch_all(root, rng)


def touch_all(root, rng):
    """Explicit nanosecond mtimes on every entry (symlinks included), then directories."""
    base = 1_600_000_000_000_000_000 + rng.randrange(10**15)
    i = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            if os.path.islink(p) or not os.path.isdir(p):
                ns = base + i * 1_000_000_007 + rng.randrange(10**9)
                os.utime(p, ns=(ns, ns), follow_symlinks=False)
                i += 1
    set_dir_mtimes(root, base + 10**15)


# ---------------------------------------------------------------------------------------
# Checking stores directly


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _check_manifest(raw, where, check_blob):
    """Parses a manifest and checks its config and layers with check_blob(desc, what)."""
    try:
        m = json.loads(raw)
    except ValueError as e:
        raise AssertionError(f"{where}: manifest is not JSON ({e}): {raw[:200]!r}")
    if m.get("schemaVersion") != 2 or m.get("mediaType") != OCI_MANIFEST:
        raise AssertionError(f"{where}: not an OCI manifest: {raw[:300]!r}")
    check_blob(m["config"], f"{where} config")
    for i, layer in enumerate(m.get("layers") or []):
        check_blob(layer, f"{where} layer {i}")
    if not m.get("layers"):
        raise AssertionError(f"{where}: manifest has no layers")
    return m


USAGE_TAG = "regcache-usage"


class LayoutChecker:
    """Verifies a local OCI layout; remembers blobs it already hashed (by inode, size and
    mtime), so calling it after every killed run stays cheap."""

    def __init__(self, path):
        self.path = path
        self._ok = {}

    def blob_path(self, digest):
        return os.path.join(self.path, "blobs", "sha256", digest.split(":", 1)[1])

    def check_blob(self, desc, what):
        digest, size = desc.get("digest", ""), desc.get("size")
        if not digest.startswith("sha256:") or not HEX64.match(digest[7:]):
            raise AssertionError(f"{what}: bad digest {digest!r}")
        p = self.blob_path(digest)
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise AssertionError(f"{what}: blob {digest} is missing from {self.path}")
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._ok.get(p) == stamp and st.st_size == size:
            return
        if st.st_size != size:
            raise AssertionError(f"{what}: blob {digest} has {st.st_size} bytes, descriptor says {size}")
        got = sha256_file(p)
        if got != digest:
            raise AssertionError(f"{what}: blob {digest} hashes to {got}")
        self._ok[p] = stamp

    def check(self):
        """Returns {tag: manifest digest} for every entry of index.json, all verified."""
        p = os.path.join(self.path, "index.json")
        with open(p, "rb") as f:
            raw = f.read()
        try:
            idx = json.loads(raw)
        except ValueError as e:
            raise AssertionError(f"{p} is not valid JSON ({e}): {raw[:300]!r}")
        if not isinstance(idx.get("manifests"), list):
            raise AssertionError(f"{p} has no manifests array: {raw[:300]!r}")
        tags = {}
        for d in idx["manifests"]:
            tag = (d.get("annotations") or {}).get(REF_NAME)
            if tag is None:  # an untagged manifest: verified, not returned
                self.check_blob(d, f"untagged index entry {d.get('digest')}")
                with open(self.blob_path(d["digest"]), "rb") as f:
                    _check_manifest(f.read(), f"untagged layout entry {d.get('digest')}", self.check_blob)
                continue
            if tag in tags:
                raise AssertionError(f"{p}: tag {tag!r} appears more than once")
            self.check_blob(d, f"index entry {tag}")
            with open(self.blob_path(d["digest"]), "rb") as f:
                m = _check_manifest(f.read(), f"layout entry {tag}", self.check_blob)
            check_key_annotation(m, tag, f"layout entry {tag}")
            if not m.get("artifactType"):
                tags[tag] = d["digest"]
        return tags


class RegistryChecker:
    """Verifies every tag of a registry repository (GET manifest with the OCI Accept
    header, GET each blob, sha256); content-addressed results are remembered."""

    def __init__(self, host, repo):
        self.client = RegistryClient(host, repo)
        self._blobs = set()

    def check_blob(self, desc, what):
        digest = desc.get("digest", "")
        if digest in self._blobs:
            return
        st, _, body = self.client.request("GET", self.client.url(f"blobs/{digest}"))
        if st != 200:
            raise AssertionError(f"{what}: GET blob {digest}: HTTP {st}")
        got = "sha256:" + hashlib.sha256(body).hexdigest()
        if got != digest or len(body) != desc.get("size"):
            raise AssertionError(f"{what}: blob {digest} ({desc.get('size')} bytes) came back as {got} "
                                 f"({len(body)} bytes)")
        self._blobs.add(digest)

    def check(self):
        tags = {}
        for tag in self.client.tags():
            if tag == USAGE_TAG:   # the last-used record restores keep (docs/lifecycle.md)
                continue
            raw = self.client.get_manifest(tag)
            # docker-registry creates a tag's directory (which the tag list shows) a moment
            # before it writes the tag's link, while it finishes the PUT of a killed client.
            # However busy the machine, that moment ends; 60 s stands for never.
            deadline = time.monotonic() + 60
            while raw is None and time.monotonic() < deadline:
                time.sleep(0.1)
                raw = self.client.get_manifest(tag)
            if raw is None:
                raise AssertionError(f"registry tag {tag!r} is listed but its manifest is missing")
            m = _check_manifest(raw, f"registry entry {tag}", self.check_blob)
            check_key_annotation(m, tag, f"registry entry {tag}")
            if not m.get("artifactType"):
                tags[tag] = "sha256:" + hashlib.sha256(raw).hexdigest()
        return tags


def check_key_annotation(m, tag, where):
    """Our tests use keys that are their own tags. Other artifacts regcache keeps in the
    store (a manifest with an artifactType, such as its usage record) carry no key."""
    if m.get("artifactType"):
        return
    key = (m.get("annotations") or {}).get(ANNO_KEY)
    if key != tag:
        raise AssertionError(f"{where}: {ANNO_KEY} is {key!r}, expected {tag!r}")


def layout_strays(path):
    """Names in a layout other than oci-layout, index.json, the lock and finished blobs."""
    strays = []
    for n in sorted(os.listdir(path)):
        if n not in ("oci-layout", "index.json", ".regcache.lock", "blobs"):
            strays.append(n)
    blobs = os.path.join(path, "blobs")
    for n in sorted(os.listdir(blobs)) if os.path.isdir(blobs) else []:
        if n != "sha256":
            strays.append("blobs/" + n)
    sha = os.path.join(blobs, "sha256")
    for n in sorted(os.listdir(sha)) if os.path.isdir(sha) else []:
        if not HEX64.match(n):
            strays.append("blobs/sha256/" + n)
    return strays


def temp_names(d):
    """Names in directory d that look like regcache temporaries (.tmp-*, .regcache-*)."""
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d) if ".tmp-" in n or n.startswith(".regcache-"))
