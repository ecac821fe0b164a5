"""Bad input and broken stores: each failure is one clear line on stderr, a non-zero exit
status, and nothing written (no entry, no half-restored directory, no staging leftovers)."""

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import unittest

from common import (ANNO_CREATED, ANNO_KEY, LAYER_GZIP, OCI_CONFIG, OCI_MANIFEST, RegcacheTestCase,
                    make_small_tree, make_tree, services, tree_listing)


def error_lines(err):
    return [l for l in err.splitlines() if l.strip()]


# Pack sizes adapt to the cache; these tests corrupt "the" layer, so they ask for one.
ONE_LAYER = {"REGCACHE_PACK_SIZE": str(1 << 30)}

class BadInputCase(RegcacheTestCase):
    def assertCleanError(self, rc, out, err, code=1, mentions=(), forbidden=()):
        """rc is `code` (an int or a tuple of ints), stderr is exactly one line naming the
        problem (every string of `mentions`, case-insensitively, any of a tuple), stdout is
        empty, and no string of `forbidden` appears anywhere."""
        codes = code if isinstance(code, tuple) else (code,)
        self.assertIn(rc, codes, f"exit {rc}; stderr: {err!r}")
        lines = error_lines(err)
        self.assertEqual(len(lines), 1, f"expected one line on stderr, got: {err!r}")
        self.assertIn("error", lines[0].lower())
        for m in mentions:
            alts = m if isinstance(m, tuple) else (m,)
            self.assertTrue(any(a.lower() in lines[0].lower() for a in alts),
                            f"stderr does not mention {alts}: {lines[0]!r}")
        self.assertEqual(out.strip(), "", "nothing on stdout for an error")
        for f in forbidden:
            self.assertNotIn(f, out)
            self.assertNotIn(f, err)


class EmptyAndBareValuesTest(BadInputCase):
    """An option given "" (an unset CI variable, most often) is refused rather than taken as
    the default or as every path; a bare number where a unit decides the meaning (prune
    --older-than 5 would be five seconds: every entry) is refused; a time budget past the
    cap says so; --json prints a path that is not UTF-8 instead of failing on it."""

    def test_values_refused_with_what_is_wrong(self):
        st = self.store("layout")
        make_small_tree(os.path.join(self.ws, "target"))
        self.save(st, "k", "target")
        for args, mentions in (
                (["--store", "", "list"], ["--store", "empty"]),
                (["--workspace", "", "--store", st.ref, "list"], ["--workspace", "empty"]),
                (["--store", st.ref, "restore", "--key", "k", ""], ["empty"]),
                (["--store", st.ref, "restore", "--key", "k", "--path", ""], ["--path", "empty"]),
                (["--store", st.ref, "save", "--key", "k2", ""], ["empty"]),
                (["--store", st.ref, "prune", "--max-size", ""], ["--max-size", "empty"]),
                (["--store", st.ref, "prune", "--older-than", "5"], ["--older-than 5", "unit"]),
                (["--store", st.ref, "list", "--timeout", "99999999"], ["--timeout", "at most"]),
                (["--store", "127.0.0.1:1/x/y", "--local-cache", os.path.join(self.tmp, "t"),
                  "--local-cache-max", "500", "list"], ["--local-cache-max", "unit"])):
            with self.subTest(args=args):
                rc, out, err = self.regcache(*args)
                self.assertCleanError(rc, out, err, code=2, mentions=mentions)
        self.assertEqual([e["key"] for e in self.list_keys(st)], ["k"], "nothing pruned or saved")
        rc, out, err = self.regcache("--json", "--store", st.ref, "restore", "--key", "k", "--path",
                                     "target/x\udcff", check=True)
        self.assertEqual(json.loads(out)["result"], "miss", err)


class StoreReferenceTest(BadInputCase):
    def test_unknown_scheme(self):
        make_small_tree(os.path.join(self.ws, "target"))
        before = tree_listing(self.tmp)
        for args in (["save", "--key", "k", "target"], ["restore", "--key", "k"], ["list"]):
            rc, out, err = self.regcache("--store", "ftp://x/y", *args)
            self.assertCleanError(rc, out, err, code=2, mentions=["ftp://x/y"])
        rc, out, err = self.regcache("save", "--key", "k", "target", env={"REGCACHE_STORE": "ftp://x/y"})
        self.assertCleanError(rc, out, err, code=2, mentions=["ftp"])
        self.assertEqual(tree_listing(self.tmp), before, "nothing written (not even the default store)")

    def test_unreachable_registry(self):
        make_small_tree(os.path.join(self.ws, "target"))
        before = tree_listing(self.tmp)
        for args in (["save", "--key", "k", "target"], ["restore", "--key", "k"]):
            # It gives up (the number of tries and their delays are the retry policy's,
            # unit-tested; short delays here); the call's timeout stands for "never".
            rc, out, err = self.regcache("--store", "127.0.0.1:1/x/y", *args, env={"REGCACHE_RETRY_DELAY_MS": "10"},
                                         timeout=120)
            self.assertCleanError(rc, out, err, code=1, mentions=["127.0.0.1:1", ("connect", "refused")])
        self.assertEqual(tree_listing(self.tmp), before)


class WorkspaceTest(BadInputCase):
    def test_a_workspace_that_is_not_a_directory(self):
        make_small_tree(os.path.join(self.ws, "target"))
        layout = os.path.join(self.tmp, "layout")
        missing = os.path.join(self.tmp, "typo-ws", "deep")
        before = tree_listing(self.tmp)
        for args, env, source in ((["--workspace", missing], {}, "--workspace"),
                                  ([], {"GITHUB_WORKSPACE": missing}, "GITHUB_WORKSPACE"),
                                  ([], {"CI_PROJECT_DIR": os.path.join(self.ws, "target", "a.txt")}, "CI_PROJECT_DIR")):
            for cmd in (["save", "--key", "k", "target"], ["restore", "--key", "k"]):
                rc, out, err = self.regcache("--store", "oci:" + layout, *args, *cmd, env=env)
                self.assertCleanError(rc, out, err, code=2, mentions=["workspace", source])
        self.assertEqual(tree_listing(self.tmp), before, "nothing made, not even the missing workspace")


class CredentialsTest(BadInputCase):
    WRONG = "Wr0ng-pa55word-4c1d7e9f"

    def check_wrong_password(self, backend):
        st = self.store(backend)
        right = st.env["REGCACHE_PASSWORD"]
        env = dict(st.env, REGCACHE_PASSWORD=self.WRONG)
        make_small_tree(os.path.join(self.ws, "target"))
        for args in (["save", "--key", "k", "target"], ["restore", "--key", "k"], ["list"],
                     ["delete", "k"]):
            for verbosity in ([], ["-v"]):
                rc, out, err = self.regcache("--store", st.ref, *verbosity, *args, env=env)
                self.assertEqual(rc, 1, f"{args}: {err!r}")
                if not verbosity:
                    self.assertCleanError(rc, out, err, mentions=[("credential", "unauthorized", "401",
                                                                   "password", "denied")])
                for text in (out, err):
                    self.assertNotIn(self.WRONG, text, "the password leaked")
                    self.assertNotIn(right, text)
        # Nothing was written: with the right password the repository is empty.
        self.assertEqual(self.list_keys(st), [])
        # And a verbose run with the right password does not print it either.
        rc, out, err = self.regcache("--store", st.ref, "-v", "--json", "save", "--key", "k", "target",
                                     env=st.env, check=True)
        self.assertNotIn(right, out + err)
        self.assertNoLeftovers()

    def test_wrong_password_basic(self):
        self.check_wrong_password("basic")

    def test_wrong_password_token(self):
        self.check_wrong_password("token")
        log = services().get("TOKEN_LOG")
        if log and os.path.exists(log):
            with open(log, encoding="utf-8") as f:
                self.assertNotIn(self.WRONG, f.read())

    def test_untrusted_tls(self):
        st = self.store("basic")
        env = dict(st.env)
        env.pop("REGCACHE_CA_FILE")
        make_small_tree(os.path.join(self.ws, "target"))
        for args in (["save", "--key", "k", "target"], ["restore", "--key", "k"]):
            rc, out, err = self.regcache("--store", st.ref, *args, env=env)
            self.assertCleanError(rc, out, err, mentions=["certificate"], forbidden=[env["REGCACHE_PASSWORD"]])
        self.assertEqual(self.list_keys(st), [])


class SaveInputTest(BadInputCase):
    def test_missing_path(self):
        make_small_tree(os.path.join(self.ws, "target"))
        for backend in ("layout", "open"):
            with self.subTest(backend=backend):
                st = self.store(backend)
                for paths in (["does-not-exist"], ["target", "does-not-exist"], ["--path", "does-not-exist"]):
                    rc, out, err = self.regcache("--store", st.ref, "save", "--key", "k", *paths, env=st.env)
                    self.assertCleanError(rc, out, err, mentions=["does-not-exist"])
                self.assertEqual(self.list_keys(st), [])
        self.assertNoLeftovers()
        never = os.path.join(self.tmp, "never-made")
        rc, out, err = self.regcache("--store", "oci:" + never, "save", "--key", "k", "does-not-exist")
        self.assertCleanError(rc, out, err, mentions=["does-not-exist"])
        self.assertFalse(os.path.exists(never), "a save that found no path made a layout store")

    def _bad_keys(self):
        return [("k" * 513, ["512"]), ("a,b", ["comma"]), ("a\nb", [("control", "newline")]), ("", ["empty"])]

    def test_bad_keys(self):
        make_small_tree(os.path.join(self.ws, "target"))
        st = self.store("open")
        lst = self.store("layout")
        for key, mentions in self._bad_keys():
            for store in (st, lst):
                with self.subTest(key=key[:20], store=store.backend):
                    for args in (["save", "--key", key, "target"], ["restore", "--key", key],
                                 ["restore", "--key", "ok", "--restore-key", key]):
                        rc, out, err = self.regcache("--store", store.ref, *args, env=store.env)
                        self.assertCleanError(rc, out, err, code=(1, 2), mentions=mentions)
        self.assertEqual(self.list_keys(st), [])
        self.assertEqual(self.list_keys(lst), [])
        self.assertFalse(os.path.exists(os.path.join(self.ws, "ok")))
        # 512 characters is still fine.
        self.assertEqual(self.save(st, "k" * 512, "target")["result"], "saved")

    def test_bad_key_creates_no_layout(self):
        make_small_tree(os.path.join(self.ws, "target"))
        store_dir = os.path.join(self.tmp, "never-created")
        for key, _ in self._bad_keys():
            rc, out, err = self.regcache("--store", "oci:" + store_dir, "save", "--key", key, "target")
            self.assertIn(rc, (1, 2))
            self.assertFalse(os.path.exists(store_dir), f"a usage error (key {key[:20]!r}) created the layout")


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        pos = offset if offset >= 0 else size + offset
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0xFF]))


class CorruptLayoutBlobTest(BadInputCase):
    """A layer blob in a local layout whose bytes no longer match its digest."""

    # Where the byte is flipped: in the zstd frame header, in the first tar header, in
    # the middle of the random 3 MiB file (stored raw), in the last block of the frame.
    OFFSETS = {"frame-header": 0, "tar-header": 100, "middle": 1_500_000, "end": -5}

    def setUp(self):
        super().setUp()
        self.st = self.store("layout")
        self.target = os.path.join(self.ws, "target")
        make_tree(self.target)
        self.save(self.st, "k", "target", env=ONE_LAYER)
        shutil.rmtree(self.target)
        manifest = self.st.manifest("k")
        self.assertEqual(len(manifest["layers"]), 1)
        self.layer = manifest["layers"][0]["digest"]
        self.blob = self.st.client.blob_path(self.layer)
        self.pristine = os.path.join(self.tmp, "pristine-blob")
        shutil.copyfile(self.blob, self.pristine)

    def corrupt(self, offset):
        shutil.copyfile(self.pristine, self.blob)
        flip_byte(self.blob, offset)

    def restore_corrupt(self):
        before = tree_listing(self.tmp)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k")
        # Nothing written; the damaged copy, and nothing else, is gone from the layout.
        self.assertEqual(tree_listing(self.tmp), before - {os.path.relpath(self.blob, self.tmp)},
                         "the failed restore left something behind")
        self.assertFalse(os.path.exists(self.target), "the destination was created")
        return rc, out, err

    def test_corrupt_layer_fails_cleanly(self):
        for name, off in self.OFFSETS.items():
            with self.subTest(where=name):
                self.corrupt(off)
                rc, out, err = self.restore_corrupt()
                self.assertCleanError(rc, out, err)
        self.assertNoLeftovers()

    def test_corrupt_layer_in_raw_data_names_digest(self):
        self.corrupt(self.OFFSETS["middle"])
        rc, out, err = self.restore_corrupt()
        self.assertCleanError(rc, out, err, mentions=[self.layer])

    def test_corrupt_layer_anywhere_names_digest(self):
        for name, off in self.OFFSETS.items():
            with self.subTest(where=name):
                self.corrupt(off)
                rc, out, err = self.restore_corrupt()
                self.assertCleanError(rc, out, err, mentions=[self.layer])

    def test_damaged_copy_is_removed_and_the_next_save_writes_it_again(self):
        # A damaged copy has the size a save checks: kept, every later save would reuse it
        # and every restore of the key would fail. The failed restore removes it and says
        # so; the next save of the key, without --force, writes the entry again.
        self.restore(self.st, "k")
        kept = os.path.join(self.tmp, "kept")
        shutil.copytree(self.target, kept, symlinks=True)
        shutil.rmtree(self.target)
        self.corrupt(self.OFFSETS["middle"])
        rc, out, err = self.restore_corrupt()
        self.assertCleanError(rc, out, err, mentions=[self.layer, "the damaged copy is removed from"])
        self.assertFalse(os.path.exists(self.blob))

        shutil.copytree(kept, self.target, symlinks=True)
        rc, out, err = self.regcache("--store", self.st.ref, "save", "--key", "k", "target",
                                     env=ONE_LAYER, check=True)
        self.assertIn("Replacing the entry for k: its blob " + self.layer + " is missing", out + err)
        for layer in self.st.manifest("k")["layers"]:
            self.assertTrue(os.path.isfile(self.st.client.blob_path(layer["digest"])))
        shutil.rmtree(self.target)
        self.restore(self.st, "k")
        self.assertEqual(tree_listing(self.target), tree_listing(kept))

    def test_missing_layer_blob(self):
        os.unlink(self.blob)
        rc, out, err = self.restore_corrupt()
        self.assertCleanError(rc, out, err, mentions=[self.layer])

    def test_missing_manifest_blob_is_a_miss_that_says_why(self):
        digest = self.st.client.index()["manifests"][0]["digest"]
        os.unlink(self.st.client.blob_path(digest))
        rc, out, err = self.regcache("--store", self.st.ref, "-v", "--json", "restore", "--key", "k", check=True)
        self.assertEqual(json.loads(out)["result"], "miss")
        self.assertIn("tag k in ", err)
        self.assertIn(digest + ", which is missing from", err)

    def test_restore_into_existing_dir_keeps_it_unchanged(self):
        self.corrupt(self.OFFSETS["middle"])
        os.makedirs(os.path.join(self.target, "sub"))
        with open(os.path.join(self.target, "small.txt"), "w") as f:
            f.write("mine\n")
        before = tree_listing(self.tmp)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "k")
        self.assertCleanError(rc, out, err)
        self.assertEqual(tree_listing(self.tmp), before - {os.path.relpath(self.blob, self.tmp)})
        with open(os.path.join(self.target, "small.txt")) as f:
            self.assertEqual(f.read(), "mine\n")


# ---------------------------------------------------------------------------------------
# Entries crafted and pushed straight to the open registry


def tar_gz(members, fmt=tarfile.PAX_FORMAT):
    """members: list of (TarInfo, bytes-or-None). Returns (gzip bytes, tar bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), raw


def member(name, kind=tarfile.REGTYPE, mode=0o644, linkname="", data=None):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.linkname = linkname
    ti.mtime = 1_600_000_000
    if kind == tarfile.CHRTYPE:
        ti.devmajor, ti.devminor = 1, 3
    return ti, data


class CraftedEntryCase(BadInputCase):
    """Pushes crafted entries straight to the open registry (no tests of its own, so
    test_hostile.py can build on it)."""

    def setUp(self):
        super().setUp()
        self.st = self.store("open")
        self.c = self.st.client
        self.target = os.path.join(self.ws, "target")

    def push_entry(self, key, layers, roots=("ws/target",), mutate=None):
        """layers: list of (gzip bytes, tar bytes). Pushes blobs, config and a manifest
        tagged with key (a valid tag). mutate(manifest) may change the manifest first."""
        descs, diff_ids = [], []
        for gz, raw in layers:
            d = self.c.put_blob(gz)
            descs.append({"mediaType": LAYER_GZIP, "digest": d, "size": len(gz),
                          "annotations": {"dev.regcache.pack.tar-size": str(len(raw))}})
            diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        cd = self.c.put_blob(config)
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
             "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(config)},
             "layers": descs,
             "annotations": {ANNO_CREATED: "2024-01-01T00:00:00Z", ANNO_KEY: key,
                             "dev.regcache.format": "1", "dev.regcache.roots": json.dumps(list(roots)),
                             "dev.regcache.files": "1", "dev.regcache.size": "1"}}
        if mutate:
            mutate(m)
        self.c.put_manifest(key, json.dumps(m).encode())
        return m

    def restore_fails(self, key, mentions=(), extra=()):
        before = tree_listing(self.tmp)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", key, *extra)
        self.assertCleanError(rc, out, err, mentions=mentions)
        self.assertEqual(tree_listing(self.tmp), before, "the failed restore left something behind")
        self.assertFalse(os.path.exists(self.target))


class CraftedRegistryEntryTest(CraftedEntryCase):
    def test_wrong_layer_size(self):
        make_tree(self.target)
        self.save(self.st, "good", "target", env=ONE_LAYER)
        shutil.rmtree(self.target)
        good = self.st.manifest("good")
        layer = good["layers"][0]["digest"]
        for name, delta in (("smaller", -1000), ("larger", +1000), ("one-less", -1), ("one-more", +1)):
            with self.subTest(size=name):
                m = json.loads(json.dumps(good))
                m["layers"][0]["size"] += delta
                m["annotations"][ANNO_KEY] = "size-" + name
                self.c.put_manifest("size-" + name, json.dumps(m).encode())
                self.restore_fails("size-" + name, mentions=[layer])
        self.assertNoLeftovers()

    def test_second_layer_bad_first_good(self):
        # Two roots, one per layer: the good layer's files must not show up either.
        good = tar_gz([member("ws/target", tarfile.DIRTYPE, 0o755),
                       member("ws/target/ok.txt", data=b"fine\n" * 1000)])
        other = tar_gz([member("ws/other", tarfile.DIRTYPE, 0o755),
                        member("ws/other/x.txt", data=b"x" * 50000)])

        def shrink(m):
            m["layers"][1]["size"] -= 10

        self.push_entry("two-layers", [good, other], roots=("ws/other", "ws/target"), mutate=shrink)
        self.restore_fails("two-layers", mentions=[self.c.put_blob(other[0])])
        self.assertFalse(os.path.exists(os.path.join(self.ws, "other")))

    def test_corrupt_blob_in_registry_storage(self):
        # The registry serves what its storage holds: corrupt the stored bytes.
        make_tree(self.target)
        self.save(self.st, "stored", "target", env=ONE_LAYER)
        shutil.rmtree(self.target)
        layer = self.st.manifest("stored")["layers"][0]["digest"]
        hexd = layer.split(":")[1]
        data = os.path.join(services()["SERVICES_DIR"], "open", "data", "docker", "registry", "v2", "blobs",
                            "sha256", hexd[:2], hexd, "data")
        if not os.path.exists(data):
            self.skipTest(f"registry storage layout not as expected: {data}")
        flip_byte(data, 1_500_000)  # inside the random file: only the digest tells
        self.restore_fails("stored", mentions=[layer])

    def test_hostile_layers(self):
        cases = {
            "dotdot": [member("ws/target/../../escape.txt", data=b"evil")],
            "absolute": [member(os.path.join(self.tmp, "abs-escape.txt"), data=b"evil")],
            "symlink-out": [member("ws/target", tarfile.DIRTYPE, 0o755),
                            member("ws/target/link", tarfile.SYMTYPE, 0o777, linkname="../../..")],
            "through-symlink": [member("ws/target", tarfile.DIRTYPE, 0o755),
                                member("ws/target/sub", tarfile.DIRTYPE, 0o755),
                                member("ws/target/l", tarfile.SYMTYPE, 0o777, linkname="sub"),
                                member("ws/target/l/x.txt", data=b"through a link")],
            "hardlink-out": [member("ws/target", tarfile.DIRTYPE, 0o755),
                             member("ws/target/h", tarfile.LNKTYPE, 0o644, linkname="etc/passwd")],
            "device": [member("ws/target", tarfile.DIRTYPE, 0o755),
                       member("ws/target/null", tarfile.CHRTYPE, 0o666)],
            "fifo": [member("ws/target", tarfile.DIRTYPE, 0o755),
                     member("ws/target/fifo", tarfile.FIFOTYPE, 0o644)],
            "setuid": [member("ws/target", tarfile.DIRTYPE, 0o755),
                       member("ws/target/suid", mode=0o4755, data=b"#!/bin/sh\n")],
            "duplicate": [member("ws/target", tarfile.DIRTYPE, 0o755),
                          member("ws/target/a", data=b"one"), member("ws/target/a", data=b"two")],
        }
        for name, members in cases.items():
            with self.subTest(case=name):
                key = "hostile-" + name
                self.push_entry(key, [tar_gz(members)])
                # A symlink alone, pointing outside, is recreated as saved unless refused.
                self.restore_fails(key, extra=["--no-external-symlinks"] if name == "symlink-out" else [])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "escape.txt")))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "abs-escape.txt")))
        self.assertNoLeftovers()
        # By default the lone external symlink comes back exactly, and nothing beyond it.
        self.regcache("--store", self.st.ref, "restore", "--key", "hostile-symlink-out", check=True)
        self.assertEqual(os.readlink(os.path.join(self.target, "link")), "../../..")
        self.assertEqual(os.listdir(self.target), ["link"])

    def test_layer_larger_than_declared_tar_size(self):
        gz, raw = tar_gz([member("ws/target", tarfile.DIRTYPE, 0o755),
                          member("ws/target/zeros", data=b"\0" * 1_000_000)])

        def lie(m):
            m["layers"][0]["annotations"]["dev.regcache.pack.tar-size"] = "10240"

        self.push_entry("bomb", [(gz, raw)], mutate=lie)
        self.restore_fails("bomb", mentions=[("size", "larger", "more than")])


if __name__ == "__main__":
    unittest.main()
