"""Interoperability: an entry is an ordinary OCI image that skopeo reads and copies, and
regcache restores what skopeo wrote (into a layout or a registry)."""

import datetime
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import unittest

from common import (ANNO_CREATED, ANNO_KEY, LAYER_GZIP, LAYER_ZSTD, MIB, OCI_CONFIG, OCI_MANIFEST,
                    RegcacheTestCase, make_small_tree, make_tree, services, snapshot)

SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
ZSTD = shutil.which("zstd") or "/usr/bin/zstd"


class InteropCase(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        if not os.access(SKOPEO, os.X_OK):
            self.skipTest("skopeo is not installed")
        self.target = os.path.join(self.ws, "target")
        self.skopeo_home = os.path.join(self.tmp, "skopeo-home")
        os.makedirs(self.skopeo_home)

    def skopeo(self, *args, check=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.skopeo_home,
               "TMPDIR": self.tmpdir}
        p = subprocess.run([SKOPEO, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if check and p.returncode != 0:
            self.fail(f"skopeo {' '.join(args)}: exit {p.returncode}\n{p.stderr.decode(errors='replace')}")
        return p.stdout

    def skopeo_opts(self, backend, direction=""):
        """skopeo flags to reach a backend's registry. direction: '', 'src-' or 'dest-'."""
        s = services()
        if backend == "open":
            return [f"--{direction}tls-verify=false"]
        if backend == "basic":
            return [f"--{direction}cert-dir", s["REG_CERT_DIR"],
                    f"--{direction}creds", f"{s['REG_BASIC_USER']}:{s['REG_BASIC_PASSWORD']}"]
        if backend == "token":
            return [f"--{direction}tls-verify=false",
                    f"--{direction}creds", f"{s['REG_TOKEN_USER']}:{s['REG_TOKEN_PASSWORD']}"]
        raise ValueError(backend)

    def tag_of(self, store, key):
        tags = [e["tag"] for e in self.list_keys(store) if e["key"] == key]
        self.assertEqual(len(tags), 1)
        return tags[0]


class SkopeoReadsRegcacheTest(InteropCase):
    def test_skopeo_inspect(self):
        make_tree(self.target, big=False)
        for backend in ("open", "basic", "token"):
            with self.subTest(backend=backend):
                st = self.store(backend)
                key = "cargo/linux:x86_64 abc"
                saved = self.save(st, key, "target")
                tag = self.tag_of(st, key)
                ref = f"docker://{st.host}/{st.repo}:{tag}"
                raw = self.skopeo("inspect", "--raw", *self.skopeo_opts(backend), ref)
                self.assertEqual("sha256:" + hashlib.sha256(raw).hexdigest(), saved["digest"])
                self.assertEqual(raw, st.client.get_manifest(tag))
                manifest = json.loads(raw)
                self.assertEqual(manifest["annotations"][ANNO_KEY], key)
                info = json.loads(self.skopeo("inspect", *self.skopeo_opts(backend), ref))
                self.assertEqual(info["Digest"], saved["digest"])
                self.assertEqual(info["Os"], "linux")
                self.assertTrue(info["Architecture"])
                self.assertEqual(info["Layers"], [l["digest"] for l in manifest["layers"]])
                self.assertIn(tag, info["RepoTags"])
                config = json.loads(self.skopeo("inspect", "--config", "--raw", *self.skopeo_opts(backend), ref))
                self.assertEqual(len(config["rootfs"]["diff_ids"]), len(manifest["layers"]))

    def test_skopeo_copy_registry_to_layout_then_restore(self):
        make_tree(self.target)
        before = snapshot(self.target)
        st = self.store("open")
        keys = ["interop-1", "cargo/linux:x86_64 abc"]  # a tag, and a key that is not one
        for k in keys:
            self.save(st, k, "target")
        shutil.rmtree(self.target)
        layout = os.path.join(self.tmp, "skopeo-layout")
        for k in keys:
            tag = self.tag_of(st, k)
            self.skopeo("copy", "--quiet", *self.skopeo_opts("open", "src-"), f"docker://{st.host}/{st.repo}:{tag}",
                        f"oci:{layout}:{tag}")
        listed = self.regcache("--store", "oci:" + layout, "--json", "list", check=True)[1]
        self.assertEqual(sorted(e["key"] for e in json.loads(listed)), sorted(keys))
        for k in keys:
            with self.subTest(key=k):
                shutil.rmtree(self.target, ignore_errors=True)
                _, out, err = self.regcache("--store", "oci:" + layout, "--json", "restore", "--key", k, check=True)
                r = json.loads(out)
                self.assertEqual((r["result"], r["matched_key"]), ("hit", k))
                self.assertTreeEqual(before, snapshot(self.target))
        shutil.rmtree(self.target)
        _, out, _ = self.regcache("--store", "oci:" + layout, "--json", "restore", "--key", "none",
                                  "--restore-key", "cargo/", check=True)
        self.assertEqual(json.loads(out)["matched_key"], keys[1])
        self.assertTreeEqual(before, snapshot(self.target))
        self.assertNoLeftovers()

    def test_skopeo_copy_layout_to_registry_then_restore(self):
        make_tree(self.target)
        before = snapshot(self.target)
        layout = self.store("layout")
        saved = self.save(layout, "from-layout", "target")
        shutil.rmtree(self.target)
        dest = self.store("open")
        self.skopeo("copy", "--quiet", *self.skopeo_opts("open", "dest-"), f"{layout.ref}:from-layout",
                    f"docker://{dest.host}/{dest.repo}:from-layout")
        self.assertEqual(self.list_keys(dest)[0]["digest"], saved["digest"], "skopeo kept the manifest")
        r = self.restore(dest, "from-layout")
        self.assertEqual((r["result"], r["matched_key"]), ("hit", "from-layout"))
        self.assertTreeEqual(before, snapshot(self.target))
        # And to an authenticated registry.
        shutil.rmtree(self.target)
        dest = self.store("token")
        self.skopeo("copy", "--quiet", *self.skopeo_opts("token", "dest-"), f"{layout.ref}:from-layout",
                    f"docker://{dest.host}/{dest.repo}:from-layout")
        r = self.restore(dest, "nope", extra=["--restore-key", "from-"])
        self.assertEqual((r["result"], r["matched_key"]), ("partial", "from-layout"))
        self.assertTreeEqual(before, snapshot(self.target))


# org.opencontainers.image.ref.name grammar (image-spec annotations.md), which skopeo's
# oci: transport enforces on the ref part of oci:PATH:REF.
OCI_REF_NAME = re.compile(r"^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$")


class LayoutRefNameTest(InteropCase):
    # Keys that are not valid tags, so regcache derives (sanitizes) their tag.
    KEYS = ["clé/été:x86_64 1", "npm / linux   v1", ".hidden-key", "-dash-first", "trailing/"]

    def test_sanitized_tags_are_valid_layout_ref_names(self):
        make_small_tree(self.target)
        st = self.store("layout")
        for k in self.KEYS:
            self.save(st, k, "target")
        bad = [t for t in st.client.tags() if not OCI_REF_NAME.match(t)]
        self.assertEqual(bad, [], "index.json ref names that skopeo and the OCI spec reject")

    def test_skopeo_reads_entry_with_sanitized_tag_from_layout(self):
        make_small_tree(self.target)
        st = self.store("layout")
        key = self.KEYS[0]
        self.save(st, key, "target")
        tag = self.tag_of(st, key)
        dest = os.path.join(self.tmp, "copy")
        self.skopeo("copy", "--quiet", f"{st.ref}:{tag}", f"oci:{dest}:{tag}")
        _, out, _ = self.regcache("--store", "oci:" + dest, "--json", "restore", "--key", key, check=True)
        self.assertEqual(json.loads(out)["result"], "hit")

    def test_tags_of_ordinary_keys_are_valid_layout_ref_names(self):
        make_small_tree(self.target)
        st = self.store("layout")
        for k in ("cargo/linux:x86_64 abc", "v1.2.3", "node-modules-linux-x64-0123abcd", "k" * 300):
            self.save(st, k, "target")
        for t in st.client.tags():
            self.assertRegex(t, OCI_REF_NAME)


def decompress(media_type, blob):
    if media_type == LAYER_GZIP:
        return gzip.decompress(blob)
    if media_type == LAYER_ZSTD:
        p = subprocess.run([ZSTD, "-d", "-c", "-q"], input=blob, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=True)
        return p.stdout
    raise AssertionError(f"unexpected layer media type {media_type}")


class EntryFormatTest(InteropCase):
    KEY = "clé/build:x86_64 v1 (release)"

    def check_entry(self, st, key, layer_type, tree_snap, min_layers=1):
        tag = self.tag_of(st, key)
        raw = st.client.get_manifest(tag)
        m = json.loads(raw)
        self.assertEqual(m["schemaVersion"], 2)
        self.assertEqual(m["mediaType"], OCI_MANIFEST)
        self.assertEqual(m["config"]["mediaType"], OCI_CONFIG)

        a = m["annotations"]
        self.assertEqual(a[ANNO_KEY], key)
        created = a[ANNO_CREATED]
        self.assertRegex(created, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
        when = datetime.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", created).replace("Z", "+00:00"))
        age = datetime.datetime.now(datetime.timezone.utc) - when
        self.assertLess(abs(age.total_seconds()), 600, f"created {created} is not now")

        config_bytes = st.client.get_blob(m["config"]["digest"])
        self.assertEqual("sha256:" + hashlib.sha256(config_bytes).hexdigest(), m["config"]["digest"])
        self.assertEqual(len(config_bytes), m["config"]["size"])
        config = json.loads(config_bytes)
        self.assertEqual(config["os"], "linux")
        self.assertTrue(isinstance(config["architecture"], str) and config["architecture"])
        self.assertEqual(config["rootfs"]["type"], "layers")
        diff_ids = config["rootfs"]["diff_ids"]
        self.assertEqual(len(diff_ids), len(m["layers"]))
        self.assertGreaterEqual(len(m["layers"]), min_layers)

        seen = {}
        for layer, diff_id in zip(m["layers"], diff_ids):
            self.assertEqual(layer["mediaType"], layer_type)
            blob = st.client.get_blob(layer["digest"])
            self.assertEqual(len(blob), layer["size"])
            self.assertEqual("sha256:" + hashlib.sha256(blob).hexdigest(), layer["digest"])
            tar_bytes = decompress(layer_type, blob)
            self.assertEqual("sha256:" + hashlib.sha256(tar_bytes).hexdigest(), diff_id)
            with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as t:
                for ti in t.getmembers():
                    self.assertNotIn(ti.name, seen, "a path appears in two layers")
                    seen[ti.name] = ti
        # The image's filesystem is the cache, under ws/.
        self.assertTrue(all(n == "ws/target" or n.startswith("ws/target/") for n in seen), sorted(seen)[:5])
        expected = {("ws/target" if k == "." else "ws/target/" + k) for k in tree_snap}
        self.assertEqual(set(seen), expected)
        for rel, v in tree_snap.items():
            ti = seen["ws/target" if rel == "." else "ws/target/" + rel]
            kind = {"dir": ti.isdir(), "file": ti.isfile() or ti.islnk(), "symlink": ti.issym()}[v[0]]
            self.assertTrue(kind, f"{rel}: tar type {ti.type!r} for a {v[0]}")
            if v[0] != "symlink":
                self.assertEqual(ti.mode & 0o7777, v[1], rel)
            else:
                self.assertEqual(ti.linkname, v[4], rel)
            # nanosecond mtimes in the pax headers
            pax = ti.pax_headers.get("mtime")
            if pax is not None:
                sec, _, frac = pax.partition(".")
                ns = int(sec) * 10**9 + int((frac + "000000000")[:9])
                self.assertEqual(ns, v[3], f"{rel}: pax mtime {pax}")
            else:
                self.assertEqual(v[3] % 10**9, 0, f"{rel}: no pax mtime for a sub-second mtime")
        return m

    def test_entry_is_a_valid_image(self):
        make_tree(self.target, big=False)
        with open(os.path.join(self.target, "huge-zeros.bin"), "wb") as f:
            f.truncate(50 * MIB)  # big enough for a layer of its own
        os.utime(os.path.join(self.target, "huge-zeros.bin"), ns=(1_650_000_000_000_000_001,) * 2)
        os.utime(self.target, ns=(1_650_000_000_000_000_002,) * 2)
        snap = snapshot(self.target)
        for backend in ("layout", "basic"):
            with self.subTest(backend=backend):
                st = self.store(backend)
                self.save(st, self.KEY, "target")
                self.check_entry(st, self.KEY, LAYER_ZSTD, snap, min_layers=2)

    def test_gzip_entry_is_a_valid_image(self):
        make_tree(self.target, big=False)
        snap = snapshot(self.target)
        st = self.store("open")
        self.save(st, self.KEY, "target", extra=["--compression", "gzip"])
        self.check_entry(st, self.KEY, LAYER_GZIP, snap)

    def test_layers_are_deterministic(self):
        make_tree(self.target)
        digests = []
        for i in range(2):
            st = self.store("layout")
            self.save(st, "det-%d" % i, "target")
            m = st.manifest("det-%d" % i)
            cfg = json.loads(st.client.get_blob(m["config"]["digest"]))
            digests.append(([l["digest"] for l in m["layers"]], cfg["rootfs"]["diff_ids"]))
        self.assertEqual(digests[0], digests[1], "the same files gave different layers")


if __name__ == "__main__":
    unittest.main()
