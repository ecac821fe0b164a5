"""Self-test of tests/harness/legacy_image.py: the images it builds look like what the
2021 workaround workflow pushed (FROM scratch + COPY cache.tgz, where cache.tgz came from
`tar -P -czf`), in Docker v2 schema 2 and in OCI media types, on the open registry."""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import unittest

from common import (OCI_CONFIG, OCI_MANIFEST, SOURCE_DIR, RegcacheTestCase, RegistryClient, services, unique_repo,
                    write_file)

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "harness"))
from legacy_image import DOCKER_MANIFEST, SKOPEO, build_legacy_archive, push_legacy_image  # noqa: E402

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def write_files(root, files):
    for rel, data in files.items():
        write_file(os.path.join(root, rel), data)


class LegacyImageHarnessTest(RegcacheTestCase):
    def setUp(self):
        super().setUp()
        if not os.access(SKOPEO, os.X_OK):
            self.skipTest("skopeo is not installed")
        self.a = os.path.join(self.ws, "target")
        self.b = os.path.join(self.tmp, "elsewhere", "deps")
        write_files(self.a, {"x.txt": b"x\n", "sub/y.bin": os.urandom(5000)})
        write_files(self.b, {"z.txt": b"z\n"})
        self.archive = build_legacy_archive([self.a, self.b], os.path.join(self.tmp, "build"))

    def skopeo_inspect(self, ref, raw=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home, "TMPDIR": self.tmpdir}
        args = [SKOPEO, "inspect", "--tls-verify=false"] + (["--raw"] if raw else []) + [ref]
        p = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p.stdout

    def test_archive_is_a_docker_save(self):
        with tarfile.open(self.archive) as t:
            names = t.getnames()
            manifest = json.load(t.extractfile("manifest.json"))
            self.assertEqual(len(manifest), 1)
            self.assertEqual(len(manifest[0]["Layers"]), 1)
            self.assertIn(manifest[0]["Config"], names)
            self.assertIn("repositories", names)
            config = json.load(t.extractfile(manifest[0]["Config"]))
            layer = t.extractfile(manifest[0]["Layers"][0]).read()
        self.assertEqual((config["architecture"], config["os"]), ("amd64", "linux"))
        self.assertEqual(config["rootfs"], {"type": "layers",
                                            "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]})
        self.assertIn("COPY file:", config["history"][0]["created_by"])

    def test_push_both_media_types(self):
        host = services()["REG_OPEN"]
        for media, mtype, ctype, ltype in (("docker", DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER),
                                           ("oci", OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP)):
            with self.subTest(media=media):
                repo = unique_repo("legacy")
                push_legacy_image(self.archive, f"{host}/{repo}:v1", media=media)
                manifest = json.loads(self.skopeo_inspect(f"docker://{host}/{repo}:v1"))
                self.assertEqual(manifest["mediaType"], mtype)
                self.assertEqual(manifest["config"]["mediaType"], ctype)
                self.assertEqual([l["mediaType"] for l in manifest["layers"]], [ltype])
                info = json.loads(self.skopeo_inspect(f"docker://{host}/{repo}:v1", raw=False))
                self.assertEqual((info["Architecture"], info["Os"]), ("amd64", "linux"))

                client = RegistryClient(host, repo)
                layer = gzip.decompress(client.get_blob(manifest["layers"][0]["digest"]))
                config = json.loads(client.get_blob(manifest["config"]["digest"]))
                self.assertEqual(config["rootfs"]["diff_ids"], ["sha256:" + hashlib.sha256(layer).hexdigest()])
                with tarfile.open(fileobj=io.BytesIO(layer)) as t:
                    self.assertEqual(t.getnames(), ["cache.tgz"])
                    member = t.getmember("cache.tgz")
                    self.assertEqual((member.uid, member.gid, member.mode), (0, 0, 0o644))
                    tgz = t.extractfile(member).read()
                with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as inner:
                    names = inner.getnames()
                    self.assertTrue(all(n.startswith("/") for n in names), names)
                    self.assertIn(os.path.join(self.a, "sub/y.bin"), names)
                    self.assertIn(os.path.join(self.b, "z.txt"), names)
                    self.assertEqual(inner.extractfile(os.path.join(self.a, "x.txt")).read(), b"x\n")

    def test_push_to_a_layout(self):
        layout = os.path.join(self.tmp, "layout")
        push_legacy_image(self.archive, f"oci:{layout}:v1", media="oci")
        with open(os.path.join(layout, "index.json"), encoding="utf-8") as f:
            self.assertEqual(len(json.load(f)["manifests"]), 1)
        shutil.rmtree(layout)


if __name__ == "__main__":
    unittest.main()
