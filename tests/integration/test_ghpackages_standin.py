"""Self-test of tests/harness/ghpackages_server.py, the GitHub Packages REST stand-in:
routes, URL-encoded package names, pagination, auth and status codes (urllib only).
The registry-front tests need the harness services (REG_OPEN) and skip without them."""

import json
import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

from common import OCI_CONFIG, OCI_MANIFEST, SOURCE_DIR, RegistryClient, services, unique_repo

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "harness"))
from ghpackages_server import GhPackagesServer  # noqa: E402

TOKENS = {"tok-full": ["read:packages", "delete:packages"], "tok-read": ["read:packages"], "tok-none": []}
D = ["sha256:" + (c * 64) for c in "abcdef"]


def call(url, method="GET", token="tok-full", headers=None):
    """(status, headers, parsed JSON body or None)."""
    req = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if token:
        req.add_header("Authorization", "Bearer " + token)
    req.add_header("Accept", "application/vnd.github+json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, hdrs, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, body = e.code, e.headers, e.read()
    return status, hdrs, (json.loads(body) if body else None)


class StandinTestBase(unittest.TestCase):
    def setUp(self):
        self.deleted = []
        self.server = GhPackagesServer(TOKENS, orgs=["acme"], login="alice",
                                       on_delete=lambda o, p, v: self.deleted.append((o, p, v["name"])))
        self.base = self.server.start()
        self.addCleanup(self.server.stop)
        for i, d in enumerate(D[:5]):
            self.server.add_version("acme", "app/cache", d, [f"t{i}"], f"2026-01-0{i + 1}T00:00:00Z")
        self.server.add_version("alice", "tools/cache", D[5], ["x"], "2026-01-01T00:00:00Z")
        self.server.add_version("alice", "tools/cache", D[4], [], "2026-01-02T00:00:00Z")
        self.org = self.base + "/orgs/acme/packages/container/app%2Fcache/versions"


class RoutesTest(StandinTestBase):
    def test_list_newest_first_with_documented_fields(self):
        st, h, body = call(self.org)
        self.assertEqual(st, 200)
        self.assertEqual([v["name"] for v in body], list(reversed(D[:5])))
        v = body[0]
        self.assertIsInstance(v["id"], int)
        self.assertEqual(v["metadata"], {"package_type": "container", "container": {"tags": ["t4"]}})
        self.assertEqual((v["created_at"], v["updated_at"]), ("2026-01-05T00:00:00Z",) * 2)
        self.assertTrue(v["url"].endswith(f"/orgs/acme/packages/container/app%2Fcache/versions/{v['id']}"))
        self.assertIsNone(h.get("Link"))
        self.assertEqual(h["X-OAuth-Scopes"], "read:packages, delete:packages")

    def test_user_routes(self):
        for url in (self.base + "/user/packages/container/tools%2Fcache/versions",
                    self.base + "/users/alice/packages/container/tools%2Fcache/versions",
                    self.base + "/users/ALICE/packages/container/Tools%2FCache/versions"):
            st, _, body = call(url)
            self.assertEqual((st, [v["name"] for v in body]), (200, [D[4], D[5]]), url)

    def test_get_one_version(self):
        vid = self.server.versions("acme", "app/cache")[2]["id"]
        st, _, body = call(f"{self.org}/{vid}")
        self.assertEqual((st, body["id"], body["name"]), (200, vid, D[2]))

    def test_not_found(self):
        for url in (self.base + "/orgs/acme/packages/container/app/cache/versions",   # not encoded
                    self.base + "/orgs/acme/packages/container/nope/versions",
                    self.base + "/orgs/acme/packages/npm/app%2Fcache/versions",
                    self.base + "/users/acme/packages/container/app%2Fcache/versions",  # acme is an org
                    self.base + "/orgs/alice/packages/container/tools%2Fcache/versions",  # alice is a user
                    self.org + "/42", self.base + "/nothing"):
            st, _, body = call(url)
            self.assertEqual(st, 404, url)
            self.assertIn("message", body)
        self.assertEqual(call(self.org + "/42", method="DELETE")[0], 404)

    def test_api_version_header(self):
        self.assertEqual(call(self.org, headers={"X-GitHub-Api-Version": "2022-11-28"})[0], 200)
        st, _, body = call(self.org, headers={"X-GitHub-Api-Version": "1999-01-01"})
        self.assertEqual(st, 400)
        self.assertIn("X-GitHub-Api-Version", body["message"])
        self.assertEqual(self.server.requests[0]["api_version"], "2022-11-28")


class PaginationTest(StandinTestBase):
    def test_pages_and_link_header(self):
        seen = []
        url, pages = self.org + "?per_page=2", 0
        while url:
            st, h, body = call(url)
            self.assertEqual(st, 200)
            seen += [v["name"] for v in body]
            pages += 1
            links = {part.split(";")[1].strip(): part.split(";")[0].strip()[1:-1]
                     for part in (h.get("Link") or "").split(",") if part.strip()}
            if pages == 1:
                self.assertEqual(sorted(links), ['rel="last"', 'rel="next"'])
                self.assertIn("page=3", links['rel="last"'])
            if pages == 2:
                self.assertEqual(sorted(links), ['rel="first"', 'rel="last"', 'rel="next"', 'rel="prev"'])
            url = links.get('rel="next"')
        self.assertEqual((pages, seen), (3, list(reversed(D[:5]))))
        self.assertEqual(call(self.org + "?per_page=2&page=9")[2], [])

    def test_per_page_is_capped_at_100_and_defaults_to_30(self):
        for i in range(120):
            self.server.add_version("acme", "big", "sha256:%064x" % i, [], "2026-02-01T00:00:00Z")
        url = self.base + "/orgs/acme/packages/container/big/versions"
        self.assertEqual(len(call(url)[2]), 30)
        self.assertEqual(len(call(url + "?per_page=500")[2]), 100)


class AuthTest(StandinTestBase):
    def test_401_without_or_with_unknown_token(self):
        st, _, body = call(self.org, token=None)
        self.assertEqual((st, body["message"]), (401, "Requires authentication"))
        st, _, body = call(self.org, token="tok-bogus")
        self.assertEqual((st, body["message"]), (401, "Bad credentials"))

    def test_403_names_the_missing_scope(self):
        st, h, body = call(self.org, token="tok-none")
        self.assertEqual(st, 403)
        self.assertIn("read:packages", body["message"])
        self.assertEqual(h["X-Accepted-OAuth-Scopes"], "read:packages")
        vid = self.server.versions("acme", "app/cache")[0]["id"]
        st, h, body = call(f"{self.org}/{vid}", method="DELETE", token="tok-read")
        self.assertEqual(st, 403)
        self.assertIn("delete:packages", body["message"])
        self.assertEqual(h["X-OAuth-Scopes"], "read:packages")
        self.assertIn("delete:packages", h["X-Accepted-OAuth-Scopes"])
        self.assertEqual(len(self.server.versions("acme", "app/cache")), 5)


class DeleteTest(StandinTestBase):
    def test_delete_removes_the_version_and_calls_back(self):
        vid = self.server.versions("acme", "app/cache")[-1]["id"]   # the oldest, D[0]
        st, _, body = call(f"{self.org}/{vid}", method="DELETE")
        self.assertEqual((st, body), (204, None))
        self.assertEqual(self.deleted, [("acme", "app/cache", D[0])])
        self.assertNotIn(D[0], [v["name"] for v in call(self.org)[2]])
        self.assertEqual(call(f"{self.org}/{vid}")[0], 404)
        self.assertEqual(call(f"{self.org}/{vid}", method="DELETE")[0], 404)
        self.assertEqual([v["name"] for v in call(self.org + "?state=deleted")[2]], [D[0]])
        r = self.server.requests[0]
        self.assertEqual((r["method"], r["path"], r["status"], r["token"]),
                         ("DELETE", f"/orgs/acme/packages/container/app%2Fcache/versions/{vid}", 204, "tok-full"))

    def test_last_version_cannot_be_deleted(self):
        url = self.base + "/users/alice/packages/container/tools%2Fcache/versions"
        ids = [v["id"] for v in self.server.versions("alice", "tools/cache")]
        self.assertEqual(call(f"{url}/{ids[0]}", method="DELETE")[0], 204)
        st, _, body = call(f"{url}/{ids[1]}", method="DELETE")
        self.assertEqual(st, 400)
        self.assertIn("last version", body["message"])
        self.server.refuse_last_version = False
        self.assertEqual(call(f"{url}/{ids[1]}", method="DELETE")[0], 204)


class RegistryFrontTest(unittest.TestCase):
    """With registry_upstream, /v2/ is proxied to REG_OPEN as ghcr.io would serve it."""

    def test_push_creates_versions_delete_is_405_rest_delete_removes_manifest(self):
        upstream = services()["REG_OPEN"]
        server = GhPackagesServer(TOKENS, orgs=["acme"], registry_upstream=upstream)
        base = server.start()
        self.addCleanup(server.stop)
        host = base.split("//")[1]
        package = unique_repo("app").split("/", 1)[1] + "/cache"
        front = RegistryClient(host, "acme/" + package)
        config = front.put_blob(b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
        digests = []
        for n in (1, 2):
            m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
                            "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 77},
                            "annotations": {"n": str(n)}}).encode()
            digests.append(front.put_manifest(f"v{n}", m))
        self.assertEqual(sorted(front.tags()), ["v1", "v2"])
        vs = server.versions("acme", package)
        self.assertEqual({v["name"]: v["metadata"]["container"]["tags"] for v in vs},
                         {digests[0]: ["v1"], digests[1]: ["v2"]})
        st, _, _ = front.request("DELETE", front.url(f"manifests/{digests[0]}"))
        self.assertEqual(st, 405)
        url = f"{base}/orgs/acme/packages/container/{package.replace('/', '%2F')}/versions"
        vid = next(v["id"] for v in vs if v["name"] == digests[0])
        self.assertEqual(call(f"{url}/{vid}", method="DELETE")[0], 204)
        direct = RegistryClient(upstream, "acme/" + package)
        self.assertIsNone(direct.get_manifest(digests[0]))
        self.assertEqual(direct.tags(), ["v2"])


class StandaloneTest(unittest.TestCase):
    def test_prints_port_and_serves(self):
        script = os.path.join(SOURCE_DIR, "tests", "harness", "ghpackages_server.py")
        p = subprocess.Popen(["/usr/bin/python3", script, "--port", "0", "--token", "t=read:packages",
                              "--org", "acme"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            port = int(p.stdout.readline())
            st, _, body = call(f"http://127.0.0.1:{port}/orgs/acme/packages/container/x/versions", token="t")
            self.assertEqual((st, body["message"]), (404, "Package not found."))
        finally:
            p.terminate()
            self.assertEqual(p.wait(10), 0)
            p.stdout.close()
            p.stderr.close()


if __name__ == "__main__":
    unittest.main()
