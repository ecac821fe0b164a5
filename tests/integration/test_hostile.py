"""Hostile cache entries beyond test_bad_input.py's: each is crafted by hand and pushed
straight to the open registry (or, when the registry itself refuses to store such a
manifest, written into a local OCI layout), then restored. Every restore must exit 1 with
one `regcache: error` line naming the problem, write nothing outside the destination (a
sentinel directory beside it stays as it was, no new path appears anywhere), leave an
existing destination exactly as it was and an absent one absent, and leave no staging
directory behind."""

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import tarfile
import tempfile

from common import (ANNO_CREATED, ANNO_KEY, BIN, LAYER_GZIP, LAYER_ZSTD, OCI_CONFIG, OCI_MANIFEST, LayoutClient,
                    StoreUnderTest, clean_env, make_small_tree, snapshot, tree_listing, wait_for_binary)
from test_bad_input import CraftedEntryCase, error_lines, member, tar_gz

DIR = tarfile.DIRTYPE
SYM = tarfile.SYMTYPE
LNK = tarfile.LNKTYPE
ROOT = ("ws/target", DIR, 0o755)


def m(name, kind=tarfile.REGTYPE, mode=0o644, linkname="", data=None, pax=None):
    """member() plus pax headers of our choosing (written as given, e.g. a `path` that
    overrides the ustar name)."""
    ti, d = member(name, kind, mode, linkname, data)
    if pax:
        ti.pax_headers = dict(pax)
    return ti, d


def root_dir():
    return m(*ROOT)


def zstd_rle_frame(prefix, zeros):
    """A zstd frame of `prefix` (raw blocks) then `zeros` zero bytes as RLE blocks (4 bytes
    per 128 KiB): about 32 MiB of frame per TiB of output."""
    out = [b"\x28\xb5\x2f\xfd", bytes([0x00, 7 << 3])]  # magic; no content size; window 2^17

    def block(kind, size, body, last):
        return ((size << 3) | (kind << 1) | int(last)).to_bytes(3, "little") + body

    for i in range(0, len(prefix), 1 << 17):
        chunk = prefix[i:i + (1 << 17)]
        out.append(block(0, len(chunk), chunk, zeros == 0 and i + len(chunk) == len(prefix)))
    full, rest = divmod(zeros, 1 << 17)
    if rest == 0 and full:
        full, rest = full - 1, 1 << 17
    out.append(block(1, 1 << 17, b"\0", False) * full)
    if zeros:
        out.append(block(1, rest, b"\0", True))
    return b"".join(out)


class HostileCase(CraftedEntryCase):
    def setUp(self):
        super().setUp()
        # Beside the destination: nothing may appear in or change under it.
        self.outside = os.path.join(self.tmp, "outside")
        os.makedirs(self.outside)
        with open(os.path.join(self.outside, "sentinel.txt"), "w") as f:
            f.write("untouched\n")

    def layer(self, *members, fmt=tarfile.PAX_FORMAT):
        return tar_gz(list(members), fmt=fmt)

    def refuse(self, key, mentions=(), extra=(), store=None, env=None, existing=(False, True)):
        """Restores key and checks the refusal, first with the destination absent, then
        with it present (a small tree that must come out unchanged)."""
        store = store or self.st
        for exists in existing:
            with self.subTest(key=key, destination="existing" if exists else "absent"):
                if exists:
                    make_small_tree(self.target, content=b"mine")
                before = tree_listing(self.tmp)
                dest_before = snapshot(self.target) if exists else None
                outside_before = snapshot(self.outside)
                e = dict(store.env)
                e.update(env or {})
                rc, out, err = self.regcache("--store", store.ref, "restore", "--key", key, *extra, env=e)
                self.assertCleanError(rc, out, err, mentions=mentions)
                self.assertTrue(error_lines(err)[0].startswith("regcache: error"), err)
                self.assertEqual(tree_listing(self.tmp) - before, set(), "the failed restore wrote something")
                self.assertEqual(before - tree_listing(self.tmp), set(), "the failed restore removed something")
                self.assertEqual(snapshot(self.outside), outside_before, "something was written outside")
                if exists:
                    self.assertTreeEqual(dest_before, snapshot(self.target), "the existing destination changed:")
                else:
                    self.assertFalse(os.path.lexists(self.target), "the destination was created")
                self.assertNoLeftovers(self.tmp)
                if exists:
                    shutil.rmtree(self.target)

    # Entries the registry will not store (it validates manifests) go to a local layout.
    def layout_entry(self, tag, manifest, blobs=()):
        root = tempfile.mkdtemp(prefix="regcache-hostile-layout-")
        self.addCleanup(shutil.rmtree, root, True)
        os.makedirs(os.path.join(root, "blobs", "sha256"))

        def put(data):
            d = "sha256:" + hashlib.sha256(data).hexdigest()
            with open(os.path.join(root, "blobs", "sha256", d[7:]), "wb") as f:
                f.write(data)
            return d

        for b in blobs:
            put(b)
        raw = json.dumps(manifest).encode() if not isinstance(manifest, bytes) else manifest
        md = put(raw)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        with open(os.path.join(root, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [{
                "mediaType": OCI_MANIFEST, "digest": md, "size": len(raw),
                "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
        return StoreUnderTest("layout", "oci:" + root, {}, LayoutClient(root))

    def manifest_for(self, key, layer_descs, config_desc, roots=("ws/target",)):
        return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc, "layers": layer_descs,
                "annotations": {ANNO_CREATED: "2024-01-01T00:00:00Z", ANNO_KEY: key, "dev.regcache.format": "1",
                                "dev.regcache.roots": json.dumps(list(roots)), "dev.regcache.files": "1",
                                "dev.regcache.size": "1"}}


class HostileTarTest(HostileCase):
    """Hostile tar contents."""

    def test_write_through_symlink_of_earlier_layer(self):
        inside = [self.layer(root_dir(), m("ws/target/sub", DIR, 0o755), m("ws/target/l", SYM, 0o777, "sub")),
                  self.layer(root_dir(), m("ws/target/l/file", data=b"through a link of layer 1"))]
        self.push_entry("earlier-layer-link-inside", inside)
        self.refuse("earlier-layer-link-inside", mentions=[("symlink", "duplicate")])
        out = [self.layer(root_dir(), m("ws/target/l", SYM, 0o777, self.outside)),
               self.layer(root_dir(), m("ws/target/l/file", data=b"through a link of layer 1"))]
        self.push_entry("earlier-layer-link-out", out)
        self.refuse("earlier-layer-link-out", mentions=[("symlink", "duplicate")])
        # And when external symlinks are refused.
        self.refuse("earlier-layer-link-out", mentions=[("symlink", "duplicate")],
                    extra=["--no-external-symlinks"])
        # One job at a time: layer 1 is certainly extracted before layer 2 arrives.
        self.refuse("earlier-layer-link-out", mentions=["ws/target/l", "symlink"],
                    extra=["--no-external-symlinks"], env={"REGCACHE_JOBS": "1"})
        self.refuse("earlier-layer-link-inside", mentions=["ws/target/l", "symlink"], env={"REGCACHE_JOBS": "1"})

    def test_duplicate_path_across_layers(self):
        self.push_entry("dup-across", [self.layer(root_dir(), m("ws/target/a", data=b"one")),
                                       self.layer(root_dir(), m("ws/target/a", data=b"two"))])
        self.refuse("dup-across", mentions=["duplicate", "ws/target/a"])
        # A file in one layer, a directory of the same name in the other.
        self.push_entry("dup-kind", [self.layer(root_dir(), m("ws/target/a", data=b"one")),
                                     self.layer(root_dir(), m("ws/target/a", DIR, 0o755))])
        self.refuse("dup-kind", mentions=[("duplicate", "symlink or a file")])

    def test_symlink_chain_escape(self):
        chain = [root_dir(), m("ws/target/d", DIR, 0o755),
                 m("ws/target/d/s", SYM, 0o777, ".."),      # the root: allowed on its own
                 m("ws/target/d/t", SYM, 0o777, "s/..")]    # beside the root: escapes
        self.push_entry("chain-dotdot", [self.layer(*chain, m("ws/target/d/t/../../x", data=b"evil"))])
        self.refuse("chain-dotdot", mentions=[("symlink", "unsafe")])
        self.push_entry("chain", [self.layer(*chain, m("ws/target/d/t/x", data=b"evil"))])
        self.refuse("chain", mentions=["ws/target/d/t", "symlink"])
        # Refused too with --no-external-symlinks.
        self.refuse("chain", mentions=["ws/target/d/t", "symlink"], extra=["--no-external-symlinks"])
        # The chain split over two layers.
        self.push_entry("chain-layers", [self.layer(*chain[:3]),
                                         self.layer(root_dir(), chain[3], m("ws/target/d/t/x", data=b"e"))])
        self.refuse("chain-layers", mentions=[("symlink", "duplicate")], env={"REGCACHE_JOBS": "1"})

    def test_hard_link_to_symlink(self):
        self.push_entry("hardlink-to-outside-link", [self.layer(
            root_dir(), m("ws/target/s", SYM, 0o777, self.outside),
            m("ws/target/h", LNK, 0o644, "ws/target/s"),
            m("ws/target/h/x", data=b"evil"))])
        self.refuse("hardlink-to-outside-link", mentions=["symlink"])
        self.refuse("hardlink-to-outside-link", mentions=["ws/target/s", "symlink"],
                    extra=["--no-external-symlinks"])
        # A hard link to an inside symlink, then a write through the link's name.
        self.push_entry("hardlink-to-inside-link", [self.layer(
            root_dir(), m("ws/target/sub", DIR, 0o755), m("ws/target/s", SYM, 0o777, "sub"),
            m("ws/target/h", LNK, 0o644, "ws/target/s"), m("ws/target/h/x", data=b"evil"))])
        self.refuse("hardlink-to-inside-link", mentions=["ws/target/h", "symlink"])

    def test_setgid(self):
        self.push_entry("setgid", [self.layer(root_dir(), m("ws/target/sgid", mode=0o2755, data=b"#!/bin/sh\n"))])
        self.refuse("setgid", mentions=["setgid", "ws/target/sgid"])
        self.push_entry("setgid-dir", [self.layer(root_dir(), m("ws/target/sgd", DIR, 0o2775))])
        self.refuse("setgid-dir", mentions=["setgid", "ws/target/sgd"])

    def test_block_device(self):
        ti, _ = m("ws/target/sda", tarfile.BLKTYPE, 0o660)
        ti.devmajor, ti.devminor = 8, 0
        self.push_entry("blockdev", [self.layer(root_dir(), (ti, None))])
        self.refuse("blockdev", mentions=["device", "ws/target/sda"])

    def test_pax_path_override(self):
        self.push_entry("pax-path", [self.layer(
            root_dir(), m("ws/target/innocent", data=b"evil", pax={"path": "ws/target/../../x"}))])
        self.refuse("pax-path", mentions=["unsafe path", "ws/target/../../x"])
        self.push_entry("pax-path-abs", [self.layer(
            root_dir(), m("ws/target/innocent", data=b"evil", pax={"path": self.outside + "/x"}))])
        self.refuse("pax-path-abs", mentions=["unsafe path"])
        # A pax linkpath override: the ustar link target looks harmless.
        self.push_entry("pax-linkpath", [self.layer(
            root_dir(), m("ws/target/l", SYM, 0o777, "ok", pax={"linkpath": self.outside}))])
        self.refuse("pax-linkpath", mentions=["symlink", self.outside], extra=["--no-external-symlinks"])

    def test_gnu_long_name_dotdot(self):
        long_dir = "ws/target/" + "a" * 120
        name = long_dir + "/../../../longname-escape.txt"
        gz, raw = self.layer(root_dir(), m(name, data=b"evil"), fmt=tarfile.GNU_FORMAT)
        self.assertIn(b"././@LongLink", raw)
        self.push_entry("gnu-longname", [(gz, raw)])
        self.refuse("gnu-longname", mentions=["unsafe path"])
        # A GNU long link name (././@LongLink, type K) pointing outside.
        gz, raw = self.layer(root_dir(), m("ws/target/l", SYM, 0o777, self.outside + "/" + "b" * 120),
                             fmt=tarfile.GNU_FORMAT)
        self.push_entry("gnu-longlink", [(gz, raw)])
        self.refuse("gnu-longlink", mentions=["symlink"], extra=["--no-external-symlinks"])

    def test_root_replaced_by_symlink(self):
        for name, target in (("root-link-inside", "sub"), ("root-link-out", self.outside),
                             ("root-link-dotdot", "../outside")):
            self.push_entry(name, [self.layer(m("ws/target", SYM, 0o777, target))])
            self.refuse(name, mentions=["ws/target", "symlink"])
        # After the root's own directory entry, in another layer.
        self.push_entry("root-link-second-layer", [self.layer(root_dir(), m("ws/target/a", data=b"a")),
                                                   self.layer(m("ws/target", SYM, 0o777, "sub"))])
        self.refuse("root-link-second-layer", mentions=["ws/target", ("symlink", "duplicate")])


class HostileManifestTest(HostileCase):
    """Hostile manifests, configs and annotations around an innocent layer."""

    def innocent(self):
        return self.layer(root_dir(), m("ws/target/ok.txt", data=b"ok\n"))

    def test_config_not_an_image_config(self):
        gz, raw = self.innocent()

        def evil_type(mf):
            mf["config"]["mediaType"] = "application/x-evil"

        self.push_entry("config-type", [(gz, raw)], mutate=evil_type)
        self.refuse("config-type", mentions=["config"])
        not_json = b"\x00\x01 this is not JSON {"
        nd = self.c.put_blob(not_json)

        def not_json_config(mf):
            mf["config"].update(digest=nd, size=len(not_json))

        self.push_entry("config-not-json", [(gz, raw)], mutate=not_json_config)
        self.refuse("config-not-json", mentions=["config"])

    def test_layers_not_an_array_or_digest_not_a_string(self):
        gz, raw = self.innocent()
        ld = "sha256:" + hashlib.sha256(gz).hexdigest()
        layer = {"mediaType": LAYER_GZIP, "digest": ld, "size": len(gz)}
        cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        cd = {"mediaType": OCI_CONFIG, "digest": "sha256:" + hashlib.sha256(cfg).hexdigest(), "size": len(cfg)}
        cases = {
            "layers-object": ({"0": layer}, "layers"),
            "layers-string": (ld, "layers"),
            "layers-null": (None, "layers"),
            "digest-number": ([dict(layer, digest=12345)], "digest"),
            "digest-array": ([dict(layer, digest=[ld])], "digest"),
            "digest-missing": ([{"mediaType": LAYER_GZIP, "size": len(gz)}], "digest"),
        }
        for name, (layers, word) in cases.items():
            # The registry refuses to store these (MANIFEST_INVALID): a layout holds them.
            st = self.layout_entry(name, self.manifest_for(name, layers, cd), [gz, cfg])
            self.refuse(name, mentions=["malformed manifest", word], store=st, existing=(False,))

    def test_layer_digest_of_another_algorithm(self):
        gz, raw = self.innocent()
        cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        cd = {"mediaType": OCI_CONFIG, "digest": "sha256:" + hashlib.sha256(cfg).hexdigest(), "size": len(cfg)}
        for alg in ("sha512", "md5", "sha384"):
            digest = alg + ":" + hashlib.new(alg, gz).hexdigest()
            # The registry answers MANIFEST_BLOB_UNKNOWN for these: a layout holds them.
            mf = self.manifest_for("alg-" + alg, [{"mediaType": LAYER_GZIP, "digest": digest, "size": len(gz)}], cd)
            st = self.layout_entry("alg-" + alg, mf, [gz, cfg])
            hexdir = os.path.join(st.ref[4:], "blobs", alg)
            os.makedirs(hexdir)
            with open(os.path.join(hexdir, digest.split(":")[1]), "wb") as f:
                f.write(gz)
            self.refuse("alg-" + alg, mentions=["digest", alg], store=st, existing=(False,))

    def test_unknown_layer_media_type(self):
        gz, raw = self.innocent()

        def evil(mf):
            mf["layers"][0]["mediaType"] = "application/x-evil"

        self.push_entry("layer-type", [(gz, raw)], mutate=evil)
        self.refuse("layer-type", mentions=["media type", "application/x-evil"])

    def test_absurd_layer_count(self):
        # The registry takes manifests up to 4 MiB: 20000 layers, each the same small
        # blob. A restore must refuse the count, not fetch the blob 20000 times.
        gz, raw = self.layer(root_dir())

        def many(mf):
            del mf["layers"][0]["annotations"]
            mf["layers"] = mf["layers"] * 20000

        self.push_entry("many-layers", [(gz, raw)], mutate=many)
        # --timeout bounds the test when regcache does fetch them all: the restore then
        # ends as a miss (exit 0), which fails the refusal check.
        self.refuse("many-layers", mentions=[("too many layers", "layer count", "20000")], existing=(False,),
                    extra=["--timeout", "6"])
        # 100000 in a layout: refused for its count, or (now that a layout reads manifests up
        # to the same 4 MiB as a registry) for its size.
        cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        cd = {"mediaType": OCI_CONFIG, "digest": "sha256:" + hashlib.sha256(cfg).hexdigest(), "size": len(cfg)}
        ld = {"mediaType": LAYER_GZIP, "digest": "sha256:" + hashlib.sha256(gz).hexdigest(), "size": len(gz)}
        st = self.layout_entry("many-layers", self.manifest_for("many-layers", [ld] * 100000, cd), [gz, cfg])
        self.refuse("many-layers", mentions=[("too many layers", "layer count", "100000", "larger than")], store=st,
                    existing=(False,), extra=["--timeout", "6"])

    def test_absurd_file_count_annotation(self):
        gz, raw = self.innocent()
        for name, files in (("files-huge", str(1 << 62)), ("files-overflow", "9" * 30), ("files-negative", "-5")):
            def absurd(mf, files=files):
                mf["annotations"]["dev.regcache.files"] = files
                del mf["layers"][0]["annotations"]  # no tar-size: the limit comes from the entry

            self.push_entry(name, [(gz, raw)], mutate=absurd)
            self.refuse(name, mentions=["files"], existing=(False,))

    def test_unsafe_roots(self):
        gz, raw = self.layer(m("etc", DIR, 0o755), m("etc/evil.conf", data=b"evil"))
        for name, roots in (("root-dotdot", ["../x"]), ("root-ws-dotdot", ["ws/../x"]),
                            ("root-absolute", ["/etc"]), ("root-abs-double-slash", ["abs//etc"]),
                            ("root-abs-dot", ["abs/./etc"]), ("root-unknown-anchor", ["etc"])):
            self.push_entry(name, [(gz, raw)], roots=roots)
            self.refuse(name, mentions=[roots[0]], existing=(False,))
        self.push_entry("root-bare-abs", [(gz, raw)], roots=["abs"])
        self.refuse("root-bare-abs", mentions=["onto /"], existing=(False,))
        # A bad root after a good one: not even the good root's parent directories appear.
        self.push_entry("root-good-then-bad", [(gz, raw)], roots=("ws/deep/nested/target", "../x"))
        self.refuse("root-good-then-bad", mentions=["../x"], existing=(False,))
        self.assertFalse(os.path.exists(os.path.join(self.ws, "deep")))

    def test_restore_paths_leave_other_roots_alone(self):
        # An entry may name any root (abs/..., home/...); restoring with paths touches
        # only those. (Without paths every root of the entry is restored: see the report.)
        planted = os.path.join(self.outside, "planted")
        gz, raw = self.layer(root_dir(), m("ws/target/a", data=b"a"), m("abs" + planted, data=b"planted\n"),
                             m("home/.bashrc", data=b"echo planted\n"))
        self.push_entry("extra-roots", [(gz, raw)], roots=("ws/target", "abs" + planted, "home/.bashrc"))
        outside_before = snapshot(self.outside)
        for paths in (["target"], ["--path", "target"]):
            rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "extra-roots", *paths, check=0)
            self.assertEqual(snapshot(self.outside), outside_before)
            self.assertFalse(os.path.lexists(os.path.join(self.home, ".bashrc")))
            with open(os.path.join(self.target, "a")) as f:
                self.assertEqual(f.read(), "a")
            shutil.rmtree(self.target)

    def test_refused_entry_creates_no_parent_directories(self):
        # The destination's parent directories are made before the layers are read; a
        # refused layer must not leave them behind.
        gz, raw = self.layer(m("ws/deep/nested/target", DIR, 0o755), m("ws/deep/nested/target/../../x", data=b"e"))
        self.push_entry("deep-root-hostile", [(gz, raw)], roots=("ws/deep/nested/target",))
        self.refuse("deep-root-hostile", mentions=["unsafe path"], existing=(False,))
        self.assertFalse(os.path.exists(os.path.join(self.ws, "deep")))


class DecompressionBombTest(HostileCase):
    """A 32 MiB zstd layer that honestly declares its 1 TiB tar (dev.regcache.pack.tar-size
    is exact). The restore runs with RLIMIT_FSIZE at 64 MiB (SIGXFSZ ignored), so at worst
    it writes 64 MiB per file before the kernel stops it; the test then sees which rule
    stopped it."""

    ZEROS = 1 << 40
    FSIZE = 64 << 20

    def bomb_entry(self, key):
        dir_hdr = tarfile.TarInfo("ws/target")
        dir_hdr.type, dir_hdr.mode, dir_hdr.mtime = DIR, 0o755, 1_600_000_000
        f_hdr = tarfile.TarInfo("ws/target/zeros")
        f_hdr.size, f_hdr.mode, f_hdr.mtime = self.ZEROS, 0o644, 1_600_000_000
        headers = dir_hdr.tobuf(tarfile.PAX_FORMAT) + f_hdr.tobuf(tarfile.PAX_FORMAT)
        tar_size = len(headers) + self.ZEROS + 1024  # contents end on a block; two zero blocks
        blob = zstd_rle_frame(headers, self.ZEROS + 1024)

        def honest(mf):
            mf["layers"][0]["mediaType"] = LAYER_ZSTD
            mf["layers"][0]["annotations"]["dev.regcache.pack.tar-size"] = str(tar_size)
            mf["annotations"]["dev.regcache.size"] = str(self.ZEROS)

        self.push_entry(key, [(blob, b"")], mutate=honest)
        return blob

    def restore_limited(self, key):
        wait_for_binary()

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.FSIZE, self.FSIZE))

        p = subprocess.run([BIN, "--store", self.st.ref, "restore", "--key", key], cwd=self.ws,
                           env=clean_env(self.home, None, self.tmpdir), preexec_fn=limit,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def test_honest_huge_tar_size(self):
        blob = self.bomb_entry("bomb-honest")
        self.assertLess(len(blob), 40 << 20)
        before = tree_listing(self.tmp)
        rc, out, err = self.restore_limited("bomb-honest")
        # regcache has no size rule of its own beyond the declared tar size, which is
        # honest here: it writes until the file system refuses (with RLIMIT_FSIZE, EFBIG;
        # on a full disk, ENOSPC, see test_local_faults.py). That must still be one clean
        # error naming the file, with the staging directory removed.
        self.assertCleanError(rc, out, err, mentions=["ws/target/zeros", ("File too large", "size", "limit")])
        self.assertEqual(tree_listing(self.tmp), before)
        self.assertFalse(os.path.lexists(self.target))
        self.assertNoLeftovers(self.tmp)


if __name__ == "__main__":
    import unittest
    unittest.main()


class HostileDeltaTest(HostileCase):
    """Delta layers (dev.regcache.pack.delta) whose whiteouts or links reach too far."""

    def push_delta(self, key, *delta_members, base=None, order=None):
        """Pushes a pack holding a small tree, then a delta layer of the given members."""
        pack = self.layer(root_dir(), m("ws/target/a.txt", data=b"a"), m("ws/target/sub", DIR, 0o755),
                          m("ws/target/sub/b.txt", data=b"b"))
        layers = [base or pack, self.layer(*delta_members)]

        def mark(manifest):
            manifest["layers"][1]["annotations"]["dev.regcache.pack.delta"] = "true"
            if order:
                manifest["layers"].reverse()

        self.push_entry(key, layers, mutate=mark)

    def test_whiteout_of_the_root(self):
        self.push_delta("delta-wh-root", m("ws/.wh.target", data=b""))
        self.refuse("delta-wh-root", mentions=["whiteout outside the cache roots"])

    def test_whiteout_outside_the_roots(self):
        self.push_delta("delta-wh-outside", m("ws/outside/.wh.sentinel.txt", data=b""))
        self.refuse("delta-wh-outside", mentions=["whiteout outside the cache roots"])

    def test_whiteout_climbing_out(self):
        self.push_delta("delta-wh-dotdot", m("ws/target/../../.wh.outside", data=b""))
        self.refuse("delta-wh-dotdot", mentions=["unsafe path"])

    def test_whiteout_that_is_a_symlink_or_has_content(self):
        self.push_delta("delta-wh-symlink", m("ws/target/.wh.a.txt", SYM, 0o777, "/etc/passwd"))
        self.refuse("delta-wh-symlink", mentions=["whiteout that is not an empty file"])
        self.push_delta("delta-wh-content", m("ws/target/.wh.a.txt", data=b"content"))
        self.refuse("delta-wh-content", mentions=["whiteout that is not an empty file"])

    def test_hard_link_from_a_delta_into_the_pack(self):
        self.push_delta("delta-link-down", m("ws/target/l", LNK, 0o644, "ws/target/a.txt"))
        self.refuse("delta-link-down", mentions=["hard link target not in this layer"])

    def test_pack_above_a_delta(self):
        self.push_delta("delta-below-pack", m("ws/target/n.txt", data=b"n"), order="reversed")
        self.refuse("delta-below-pack", mentions=["a pack layer lies above a delta layer"])
