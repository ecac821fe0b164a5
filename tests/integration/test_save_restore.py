"""save / restore / list / delete against each kind of store: a local OCI layout, the
open registry, the basic-auth registry over TLS and the token-auth registry."""

import hashlib
import json
import os
import re
import shutil
import unittest

from common import (LAYER_GZIP, LAYER_ZSTD, MIB, RegcacheTestCase, make_small_tree, make_tree, parse_json,
                    set_dir_mtimes, snapshot, tree_listing)

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


def expected_counts(snap):
    """(regular file paths, unique regular inodes' bytes, non-directory entries)."""
    files = [v for v in snap.values() if v[0] == "file"]
    seen, size = set(), 0
    for k, v in snap.items():
        if v[0] == "file":
            ident = v[5] or k
            if ident not in seen:
                seen.add(ident)
                size += v[2]
    unique = len(seen)
    others = len([v for v in snap.values() if v[0] != "dir"])
    return len(files), unique, size, others


class SaveRestoreMixin:
    backend = None

    def setUp(self):
        super().setUp()
        self.st = self.store(self.backend)
        self.target = os.path.join(self.ws, "target")

    def manifest_for(self, key):
        entries = [e for e in self.list_keys(self.st) if e["key"] == key]
        self.assertEqual(len(entries), 1, f"list shows {key!r} once")
        raw = self.st.client.get_manifest(entries[0]["tag"])
        self.assertIsNotNone(raw)
        return entries[0], raw

    # -- the full round trip ---------------------------------------------------------

    def test_save_exists_restore_roundtrip(self):
        make_tree(self.target)
        before = snapshot(self.target)
        nfiles, unique, size, others = expected_counts(before)

        saved = self.save(self.st, "rt-1", "target")
        self.assertEqual(saved["result"], "saved")
        self.assertEqual(saved["key"], "rt-1")
        self.assertRegex(saved["digest"], DIGEST_RE)
        self.assertGreaterEqual(saved["layers"], 1)
        self.assertEqual(saved["reused_layers"], 0)
        self.assertTrue(unique <= saved["files"] <= others, f"files {saved['files']} for {nfiles} files")
        self.assertEqual(saved["bytes"], size)
        self.assertGreaterEqual(saved["uploaded_bytes"], 3 * MIB, "the random 3 MiB file was uploaded")
        self.assertIsInstance(saved["seconds"], (int, float))

        # The digest is the manifest's, and the tag is the key.
        entry, raw = self.manifest_for("rt-1")
        self.assertEqual(entry["tag"], "rt-1")
        self.assertEqual("sha256:" + hashlib.sha256(raw).hexdigest(), saved["digest"])
        self.assertEqual(entry["digest"], saved["digest"])
        layers = parse_json(raw.decode())["layers"]
        self.assertEqual(len(layers), saved["layers"])
        self.assertLessEqual(saved["uploaded_bytes"], sum(l["size"] for l in layers) + 4096)

        again = self.save(self.st, "rt-1", "target")
        self.assertEqual(again["result"], "exists")
        self.assertEqual(again["uploaded_bytes"], 0)
        self.assertEqual(again["key"], "rt-1")
        self.assertEqual(snapshot(self.target), before, "save does not touch the saved tree")

        shutil.rmtree(self.target)
        restored = self.restore(self.st, "rt-1")
        self.assertEqual(restored["result"], "hit")
        self.assertEqual(restored["key"], "rt-1")
        self.assertEqual(restored["matched_key"], "rt-1")
        self.assertEqual(restored["files"], saved["files"])
        self.assertEqual(restored["bytes"], size)
        self.assertGreater(restored["downloaded_bytes"], 0)
        self.assertLessEqual(restored["downloaded_bytes"], sum(l["size"] for l in layers))
        self.assertTreeEqual(before, snapshot(self.target))
        self.assertNoLeftovers()

    # -- restore keys ----------------------------------------------------------------

    def test_restore_key_partial(self):
        make_small_tree(self.target, b"partial")
        before = snapshot(self.target)
        self.save(self.st, "pfx-a", "target")
        shutil.rmtree(self.target)
        r = self.restore(self.st, "nope", extra=["--restore-key", "pfx-"])
        self.assertEqual(r["result"], "partial")
        self.assertEqual(r["key"], "nope")
        self.assertEqual(r["matched_key"], "pfx-a")
        self.assertTreeEqual(before, snapshot(self.target))

    def test_newest_prefix_match_wins(self):
        snaps = {}
        for key, content in (("pfx-a", b"A"), ("pfx-b", b"B")):
            shutil.rmtree(self.target, ignore_errors=True)
            make_small_tree(self.target, content)
            snaps[key] = snapshot(self.target)
            self.save(self.st, key, "target")
        shutil.rmtree(self.target)
        r = self.restore(self.st, "nope", extra=["--restore-key", "pfx-"])
        self.assertEqual((r["result"], r["matched_key"]), ("partial", "pfx-b"))
        self.assertTreeEqual(snaps["pfx-b"], snapshot(self.target))

        # Newest by creation time, not by name: pfx-0 sorts first but is saved last.
        shutil.rmtree(self.target)
        make_small_tree(self.target, b"zero")
        snaps["pfx-0"] = snapshot(self.target)
        self.save(self.st, "pfx-0", "target")
        shutil.rmtree(self.target)
        r = self.restore(self.st, "nope", extra=["--restore-key", "pfx-"])
        self.assertEqual(r["matched_key"], "pfx-0")
        self.assertTreeEqual(snaps["pfx-0"], snapshot(self.target))

        # Restore keys are tried in order: the first prefix with a match wins even when a
        # later prefix would match something newer.
        shutil.rmtree(self.target)
        r = self.restore(self.st, "nope", extra=["--restore-key", "nomatch-", "--restore-key", "pfx-a",
                                                 "--restore-key", "pfx-"])
        self.assertEqual(r["matched_key"], "pfx-a")
        self.assertTreeEqual(snaps["pfx-a"], snapshot(self.target))

        # An exact hit beats every restore key.
        shutil.rmtree(self.target)
        r = self.restore(self.st, "pfx-b", extra=["--restore-key", "pfx-"])
        self.assertEqual((r["result"], r["matched_key"]), ("hit", "pfx-b"))
        self.assertTreeEqual(snaps["pfx-b"], snapshot(self.target))

    def test_miss(self):
        make_small_tree(self.target)
        self.save(self.st, "present", "target")
        shutil.rmtree(self.target)
        r = self.restore(self.st, "absent")
        self.assertEqual(r["result"], "miss")
        self.assertEqual(r["key"], "absent")
        self.assertIsNone(r["matched_key"])
        r = self.restore(self.st, "absent", extra=["--restore-key", "nothing-"])
        self.assertEqual(r["result"], "miss")
        r = self.restore(self.st, "absent", extra=["--restore-key", "presentX"])
        self.assertEqual(r["result"], "miss")
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "absent", "--fail-on-miss",
                                     env=self.st.env)
        self.assertEqual(rc, 3, err)
        rc, out, err = self.regcache("--store", self.st.ref, "--json", "restore", "--key", "absent",
                                     "--restore-key", "nothing-", "--fail-on-miss", env=self.st.env)
        self.assertEqual(rc, 3, err)
        self.assertEqual(tree_listing(self.ws), set(), "a miss writes nothing into the workspace")
        self.assertNoLeftovers()

    def test_miss_on_empty_store(self):
        # A store that was never written to (a repository that does not exist yet).
        r = self.restore(self.st, "anything", extra=["--restore-key", "any"])
        self.assertEqual(r["result"], "miss")
        self.assertEqual(self.list_keys(self.st), [])

    def test_lookup_only_writes_nothing(self):
        make_small_tree(self.target)
        self.save(self.st, "look-1", "target")
        shutil.rmtree(self.target)
        r = self.restore(self.st, "look-1", extra=["--lookup-only"])
        self.assertEqual((r["result"], r["matched_key"]), ("hit", "look-1"))
        r = self.restore(self.st, "look-2", extra=["--lookup-only", "--restore-key", "look-"])
        self.assertEqual((r["result"], r["matched_key"]), ("partial", "look-1"))
        r = self.restore(self.st, "zzz", extra=["--lookup-only"])
        self.assertEqual(r["result"], "miss")
        self.assertEqual(tree_listing(self.ws), set(), "--lookup-only wrote into the workspace")
        self.assertNoLeftovers()

    # -- replacing, listing, deleting ------------------------------------------------

    def test_force_replaces(self):
        make_small_tree(self.target, b"version one")
        v1 = snapshot(self.target)
        first = self.save(self.st, "force-k", "target")
        shutil.rmtree(self.target)
        make_small_tree(self.target, b"version two", seed_ns=1_700_000_000_000_000_123)
        v2 = snapshot(self.target)
        self.assertNotEqual(v1, v2)

        same = self.save(self.st, "force-k", "target")
        self.assertEqual(same["result"], "exists")
        shutil.rmtree(self.target)
        self.restore(self.st, "force-k")
        self.assertTreeEqual(v1, snapshot(self.target), "without --force the old entry stays")

        shutil.rmtree(self.target)
        make_small_tree(self.target, b"version two", seed_ns=1_700_000_000_000_000_123)
        forced = self.save(self.st, "force-k", "target", extra=["--force"])
        self.assertEqual(forced["result"], "saved")
        self.assertNotEqual(forced["digest"], first["digest"])
        shutil.rmtree(self.target)
        r = self.restore(self.st, "force-k")
        self.assertEqual(r["result"], "hit")
        self.assertTreeEqual(v2, snapshot(self.target))
        entries = [e for e in self.list_keys(self.st) if e["key"] == "force-k"]
        self.assertEqual([e["digest"] for e in entries], [forced["digest"]])

    def test_an_image_at_the_keys_tag_is_not_replaced_without_force(self):
        """A repository shared with images: a key whose tag holds an image regcache did not
        save is refused (the image stays) unless --force."""
        if not hasattr(self.st.client, "put_manifest"):
            self.skipTest("pushing a foreign image needs a registry")
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": self.st.client.put_blob(config), "size": len(config)},
                               "layers": []}).encode()
        self.st.client.put_manifest("latest", manifest)
        make_small_tree(self.target)
        rc, out, err = self.regcache("--store", self.st.ref, "save", "--key", "latest", "target", env=self.st.env)
        self.assertEqual(rc, 1, err)
        self.assertIn("an image regcache did not save", err)
        self.assertEqual(self.st.manifest("latest"), json.loads(manifest))
        self.assertEqual(self.save(self.st, "latest", "target", extra=["--force"])["result"], "saved")
        self.assertNotEqual(self.st.manifest("latest"), json.loads(manifest))

    def test_list_and_delete(self):
        make_small_tree(self.target)
        keys = ["list-a", "list-b", "cargo/linux:x86_64 abc"]
        digests = {k: self.save(self.st, k, "target")["digest"] for k in keys}
        listed = self.list_keys(self.st)
        self.assertIsInstance(listed, list)
        self.assertEqual(sorted(e["key"] for e in listed), sorted(keys))
        for e in listed:
            self.assertEqual(e["digest"], digests[e["key"]])
            self.assertRegex(e["tag"], TAG_RE)
            self.assertRegex(e["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        # newest first
        self.assertEqual([e["key"] for e in listed], list(reversed(keys)))
        _, out, _ = self.regcache("--store", self.st.ref, "--json", "list", "--prefix", "list-",
                                  env=self.st.env, check=True)
        self.assertEqual(sorted(e["key"] for e in parse_json(out)), ["list-a", "list-b"])

        rc, out, err = self.regcache("--store", self.st.ref, "delete", "list-a", env=self.st.env)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.regcache("--store", self.st.ref, "delete", "cargo/linux:x86_64 abc",
                                     env=self.st.env)
        self.assertEqual(rc, 0, err)
        self.assertEqual([e["key"] for e in self.list_keys(self.st)], ["list-b"])
        shutil.rmtree(self.target)
        self.assertEqual(self.restore(self.st, "list-a")["result"], "miss")
        self.assertEqual(self.restore(self.st, "x", extra=["--restore-key", "list-a"])["result"], "miss")
        self.assertEqual(self.restore(self.st, "cargo/linux:x86_64 abc")["result"], "miss")
        self.assertFalse(os.path.exists(self.target))
        self.assertEqual(self.restore(self.st, "list-b")["result"], "hit")

        # Deleting what is not there is a warning naming the key: delete is idempotent, and
        # every key given is deleted.
        rc, out, err = self.regcache("--store", self.st.ref, "--json", "delete", "list-a", "list-b",
                                     env=self.st.env)
        self.assertEqual(rc, 0, err)
        self.assertIn("no cache entry for key list-a", err)
        got = parse_json(out)
        self.assertEqual([(k["key"], k["result"]) for k in got["keys"]], [("list-a", "missing"), ("list-b", "deleted")])
        self.assertEqual((got["deleted"], got["missing"]), (1, 1))
        self.assertEqual(self.list_keys(self.st), [])

    # -- keys that are not tags ------------------------------------------------------

    def test_key_that_is_not_a_tag(self):
        key = "cargo/linux:x86_64 abc"
        twin = "cargo/linux:x86_64-abc"  # sanitizes to the same characters
        snaps = {}
        for k, content in ((key, b"spaces and colons"), (twin, b"the twin")):
            shutil.rmtree(self.target, ignore_errors=True)
            make_small_tree(self.target, content)
            snaps[k] = snapshot(self.target)
            self.assertEqual(self.save(self.st, k, "target")["result"], "saved")
        listed = {e["key"]: e for e in self.list_keys(self.st)}
        self.assertEqual(set(listed), {key, twin})
        self.assertNotEqual(listed[key]["tag"], listed[twin]["tag"])
        for e in listed.values():
            self.assertRegex(e["tag"], TAG_RE)
        manifest = self.st.manifest(listed[key]["tag"])
        self.assertEqual(manifest["annotations"]["dev.regcache.key"], key)
        for k in (key, twin):
            shutil.rmtree(self.target)
            r = self.restore(self.st, k)
            self.assertEqual((r["result"], r["matched_key"]), ("hit", k))
            self.assertTreeEqual(snaps[k], snapshot(self.target), k)
        self.assertEqual(self.save(self.st, key, "target")["result"], "exists")
        shutil.rmtree(self.target)
        r = self.restore(self.st, "nope", extra=["--restore-key", "cargo/linux:x86_64 "])
        self.assertEqual(r["matched_key"], key)
        # A prefix of the tags that is not a prefix of either key does not match.
        r = self.restore(self.st, "nope", extra=["--restore-key", "cargo-linux"])
        self.assertEqual(r["result"], "miss")

    def test_long_keys_do_not_collide(self):
        stem = "long/" + "k" * 120 + ":"
        keys = [stem + "one", stem + "two", "t" * 140 + "-1", "t" * 140 + "-2"]
        snaps = {}
        for i, k in enumerate(keys):
            shutil.rmtree(self.target, ignore_errors=True)
            make_small_tree(self.target, b"content %d" % i)
            snaps[k] = snapshot(self.target)
            self.assertEqual(self.save(self.st, k, "target")["result"], "saved", k)
        listed = {e["key"]: e for e in self.list_keys(self.st)}
        self.assertEqual(set(listed), set(keys))
        self.assertEqual(len({e["tag"] for e in listed.values()}), 4)
        for e in listed.values():
            self.assertRegex(e["tag"], TAG_RE)
        for k in keys:
            shutil.rmtree(self.target)
            r = self.restore(self.st, k)
            self.assertEqual((r["result"], r["matched_key"]), ("hit", k))
            self.assertTreeEqual(snaps[k], snapshot(self.target), k)
        # A prefix longer than the sanitized part still tells the keys apart.
        shutil.rmtree(self.target)
        r = self.restore(self.st, "nope", extra=["--restore-key", stem + "o"])
        self.assertEqual(r["matched_key"], stem + "one")
        shutil.rmtree(self.target)
        r = self.restore(self.st, "nope", extra=["--restore-key", stem])
        self.assertEqual(r["matched_key"], stem + "two")

    # -- another runner: other workspace and home ------------------------------------

    def _relocation(self, variant):
        a = os.path.join(self.tmp, "runner1", "checkout")
        h1 = os.path.join(self.tmp, "runner1", "home")
        b = os.path.join(self.tmp, "runner2", "src", "project")
        h2 = os.path.join(self.tmp, "runner2", "home-other")
        for d in (a, h1, b, h2):
            os.makedirs(d, exist_ok=True)
        make_tree(os.path.join(a, "target"), big=False)
        make_small_tree(os.path.join(h1, ".cache", "x"), b"home cache")
        ws_snap = snapshot(os.path.join(a, "target"))
        home_snap = snapshot(os.path.join(h1, ".cache", "x"))
        key = "reloc-" + variant

        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(elsewhere, exist_ok=True)
        if variant == "cwd":
            save_kw, restore_kw = dict(cwd=a), dict(cwd=b)
        elif variant == "workspace":
            save_kw = dict(cwd=elsewhere)
            restore_kw = dict(cwd=elsewhere)
        else:  # GITHUB_WORKSPACE
            save_kw = dict(cwd=elsewhere, env={"GITHUB_WORKSPACE": a})
            restore_kw = dict(cwd=elsewhere, env={"GITHUB_WORKSPACE": b})

        def opts(ws):
            return ["--workspace", ws] if variant == "workspace" else []

        paths = ["target", "~/.cache/x"] if variant == "cwd" else [os.path.join(a, "target"), "~/.cache/x"]
        e = dict(self.st.env)
        e.update(save_kw.get("env") or {})
        _, out, _ = self.regcache("--store", self.st.ref, "--json", *opts(a), "save", "--key", key, *paths,
                                  env=e, cwd=save_kw["cwd"], home=h1, check=True)
        self.assertEqual(parse_json(out)["result"], "saved")
        manifest = self.st.manifest(key)
        roots = manifest["annotations"].get("dev.regcache.roots", "")
        self.assertIn("ws/target", roots)
        self.assertIn("home/.cache/x", roots)
        self.assertNotIn(self.tmp, roots, "roots are stored relative to workspace and home")

        shutil.rmtree(os.path.join(a, "target"))
        shutil.rmtree(os.path.join(h1, ".cache"))
        e = dict(self.st.env)
        e.update(restore_kw.get("env") or {})
        # The job names its paths in its own runner's terms: the home root is restored only
        # when named.
        again = ["target", "~/.cache/x"] if variant == "cwd" else [os.path.join(b, "target"), "~/.cache/x"]
        _, out, _ = self.regcache("--store", self.st.ref, "--json", *opts(b), "restore", "--key", key, *again,
                                  env=e, cwd=restore_kw["cwd"], home=h2, check=True)
        self.assertEqual(parse_json(out)["result"], "hit")
        self.assertTreeEqual(ws_snap, snapshot(os.path.join(b, "target")), "workspace path")
        self.assertTreeEqual(home_snap, snapshot(os.path.join(h2, ".cache", "x")), "home path")
        self.assertFalse(os.path.exists(os.path.join(a, "target")))
        self.assertFalse(os.path.exists(os.path.join(h1, ".cache")))
        self.assertEqual(tree_listing(elsewhere), set())

    def test_restore_on_another_runner_cwd(self):
        self._relocation("cwd")

    def test_restore_on_another_runner_workspace_flag(self):
        self._relocation("workspace")

    def test_restore_on_another_runner_github_workspace(self):
        self._relocation("github")

    # -- restoring over existing files -----------------------------------------------

    def test_restore_merges_into_existing(self):
        make_tree(self.target, big=False)
        before = snapshot(self.target)
        self.save(self.st, "merge-1", "target")
        shutil.rmtree(self.target)
        os.makedirs(os.path.join(self.target, "nested", "a"))
        os.makedirs(os.path.join(self.target, "own-dir"))
        files = {
            "unrelated.txt": b"mine\n",
            "nested/a/unrelated2.txt": b"mine too\n",
            "own-dir/keep.txt": b"keep\n",
            "small.txt": b"stale content that the cache replaces\n",
            "secret/key.pem": b"stale\n",
        }
        for rel, data in files.items():
            p = os.path.join(self.target, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        os.utime(os.path.join(self.target, "small.txt"), ns=(1_234_567_890_000_000_000,) * 2)
        unrelated = ["unrelated.txt", "nested/a/unrelated2.txt", "own-dir/keep.txt"]
        kept = {rel: snapshot(self.target)[rel] for rel in unrelated}

        r = self.restore(self.st, "merge-1")
        self.assertEqual(r["result"], "hit")
        after = snapshot(self.target)
        for rel in unrelated:
            self.assertEqual(after.get(rel), kept[rel], f"{rel} was not left alone")
        for rel, v in before.items():
            self.assertIn(rel, after)
            if v[0] == "dir":
                self.assertEqual(after[rel][0], "dir", rel)
            else:
                self.assertEqual(after[rel], v, f"{rel} not restored exactly")
        self.assertNoLeftovers()

    # -- compression -----------------------------------------------------------------

    def test_gzip_roundtrip(self):
        make_tree(self.target, big=False)
        before = snapshot(self.target)
        saved = self.save(self.st, "gz-1", "target", extra=["--compression", "gzip"])
        self.assertEqual(saved["result"], "saved")
        manifest = self.st.manifest("gz-1")
        self.assertTrue(manifest["layers"])
        for layer in manifest["layers"]:
            self.assertEqual(layer["mediaType"], LAYER_GZIP)
        shutil.rmtree(self.target)
        r = self.restore(self.st, "gz-1")
        self.assertEqual(r["result"], "hit")
        self.assertTreeEqual(before, snapshot(self.target))

        # The default is zstd.
        self.save(self.st, "zst-1", "target")
        for layer in self.st.manifest("zst-1")["layers"]:
            self.assertEqual(layer["mediaType"], LAYER_ZSTD)


class LayoutSaveRestoreTest(SaveRestoreMixin, RegcacheTestCase):
    backend = "layout"


class OpenRegistrySaveRestoreTest(SaveRestoreMixin, RegcacheTestCase):
    backend = "open"


class BasicRegistrySaveRestoreTest(SaveRestoreMixin, RegcacheTestCase):
    backend = "basic"


class TokenRegistrySaveRestoreTest(SaveRestoreMixin, RegcacheTestCase):
    backend = "token"


class ForeignImageTest(RegcacheTestCase):
    """An image someone else pushed into the repository, under a tag that looks like a key,
    is not a regcache entry: list does not show it and delete leaves it (and its digest's
    other tags) alone, exit 1 naming the tag."""

    def test_delete_leaves_an_image_it_did_not_make(self):
        st = self.store("open")
        config_bytes = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
        config = st.client.put_blob(config_bytes)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": config, "size": len(config_bytes)},
                               "layers": []}).encode()
        for tag in ("release-v1", "latest"):
            st.client.put_manifest(tag, manifest)
        self.assertEqual(self.list_keys(st), [])
        rc, out, err = self.regcache("--store", st.ref, "--json", "delete", "release-v1")
        self.assertEqual(rc, 1, err)
        self.assertIn("not a regcache entry", err)
        self.assertIn("release-v1", err)
        self.assertEqual(parse_json(out)["keys"][0]["result"], "error")
        self.assertEqual(sorted(st.client.tags()), ["latest", "release-v1"])


class LinkedWorkspaceTest(RegcacheTestCase):
    """A checkout reached through a symlink (GITHUB_WORKSPACE names the link, the current
    directory is its target): its paths are still stored under ws/, so another checkout
    restores them."""

    def test_a_workspace_through_a_link_restores_elsewhere(self):
        st = self.store("layout")
        real = os.path.join(self.tmp, "real")
        link = os.path.join(self.tmp, "link")
        make_small_tree(os.path.join(real, "target"))
        os.symlink(real, link)
        out = self.save(st, "k", "target", cwd=link, env={"GITHUB_WORKSPACE": link})
        self.assertEqual(out["result"], "saved")
        self.assertEqual(st.manifest(self.list_keys(st)[0]["tag"])["annotations"]["dev.regcache.roots"],
                         '["ws/target"]')
        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        self.assertEqual(self.restore(st, "k", cwd=other, env={"GITHUB_WORKSPACE": other})["result"], "hit")
        self.assertEqual(snapshot(os.path.join(real, "target")), snapshot(os.path.join(other, "target")))


class ConflictingTypesTest(RegcacheTestCase):
    """Restoring where the destination holds something of another type at a cached path.
    Placement does not depend on the store, so a local layout is enough."""

    def setUp(self):
        super().setUp()
        self.st = self.store("layout")
        self.target = os.path.join(self.ws, "target")
        os.makedirs(os.path.join(self.target, "dir-a"))
        os.makedirs(os.path.join(self.target, "dir-b"))
        for rel in ("dir-a/x.txt", "dir-b/y.txt", "file-a", "file-b", "zz-last"):
            with open(os.path.join(self.target, rel), "w") as f:
                f.write(rel + "\n")
        set_dir_mtimes(self.target)
        self.before = snapshot(self.target)
        self.save(self.st, "types", "target")
        shutil.rmtree(self.target)
        os.makedirs(self.target)
        self.outside = os.path.join(self.tmp, "outside")
        os.makedirs(self.outside)

    def test_cached_file_replaces_empty_dir_and_symlink(self):
        os.makedirs(os.path.join(self.target, "file-a"))
        os.symlink(os.path.join(self.outside, "victim"), os.path.join(self.target, "file-b"))
        r = self.restore(self.st, "types")
        self.assertEqual(r["result"], "hit")
        self.assertTreeEqual(self.before, snapshot(self.target))
        self.assertEqual(os.listdir(self.outside), [], "restore wrote through a symlink")

    def test_cached_file_never_replaces_a_dir_of_files(self):
        """As tar and rsync (without --force) refuse: the directory's files are not the
        cache's to delete. Nothing changes; the error names the path."""
        os.makedirs(os.path.join(self.target, "file-a", "inner"))
        with open(os.path.join(self.target, "file-a", "inner", "old"), "w") as f:
            f.write("old\n")
        before = snapshot(self.target)
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "types")
        self.assertEqual(rc, 1, err)
        self.assertIn(os.path.join(self.target, "file-a") + " is a directory", err)
        self.assertTreeEqual(before, snapshot(self.target))
        self.assertNoLeftovers()

    def test_never_writes_through_a_symlink_in_the_destination(self):
        os.symlink(self.outside, os.path.join(self.target, "dir-a"))
        rc, out, err = self.regcache("--store", self.st.ref, "restore", "--key", "types")
        self.assertEqual(os.listdir(self.outside), [], f"restore wrote through a symlink (exit {rc})")
        self.assertNoLeftovers()

    def test_cached_dir_replaces_file_and_symlink(self):
        with open(os.path.join(self.target, "dir-a"), "w") as f:
            f.write("a file where the cache has a directory\n")
        os.symlink(self.outside, os.path.join(self.target, "dir-b"))
        rc, out, err = self.regcache("--store", self.st.ref, "--json", "restore", "--key", "types")
        self.assertEqual(os.listdir(self.outside), [], "restore wrote through a symlink")
        self.assertEqual(rc, 0, err)
        self.assertTreeEqual(self.before, snapshot(self.target))


class UsageErrorTest(RegcacheTestCase):
    """Exit code 2 for usage errors, and nothing written."""

    def setUp(self):
        super().setUp()
        self.store_dir = os.path.join(self.tmp, "store")
        make_small_tree(os.path.join(self.ws, "target"))
        self.before = tree_listing(self.tmp)

    def check_usage(self, *args, mention=None):
        rc, out, err = self.regcache("--store", "oci:" + self.store_dir, *args)
        self.assertEqual(rc, 2, f"{args}: stdout={out!r} stderr={err!r}")
        self.assertTrue(err.strip(), "a usage error says something on stderr")
        if mention:
            self.assertIn(mention, err)
        if "--json" in args:  # one error object, naming the problem and the exit code
            got = parse_json(out)
            self.assertEqual((got["result"], got["exit_code"]), ("error", 2))
            self.assertIn(got["error"], err)
        else:
            self.assertEqual(out, "", "nothing on stdout for a usage error")
        self.assertFalse(os.path.exists(self.store_dir), "a usage error created the store")
        self.assertEqual(tree_listing(self.tmp), self.before)

    def test_unknown_flag(self):
        self.check_usage("save", "--key", "k", "--bogus-flag", "target", mention="--bogus-flag")
        self.check_usage("restore", "--key", "k", "--no-such-thing", mention="--no-such-thing")
        self.check_usage("--frobnicate", "list", mention="--frobnicate")

    def test_missing_key(self):
        self.check_usage("save", "target", mention="--key")
        self.check_usage("restore", mention="--key")
        self.check_usage("--json", "restore", "--restore-key", "pfx-", mention="--key")

    def test_other_usage_errors(self):
        self.check_usage("save", "--key", "k")  # no path
        self.check_usage("frobnicate")  # unknown command
        self.check_usage()  # no command
        self.check_usage("save", "--key", "k", "--compression", "lz4", "target", mention="lz4")
        self.check_usage("delete")  # no key


if __name__ == "__main__":
    unittest.main()
