#!/usr/bin/python3
"""A local stand-in for GitHub's REST API for container packages (ghcr.io images).

It answers the documented routes, with `{package_name}` URL-encoded (`app%2Fcache`):

    GET    /orgs/{org}/packages/container/{package_name}/versions[?per_page=&page=&state=]
    GET    /orgs/{org}/packages/container/{package_name}/versions/{package_version_id}
    DELETE /orgs/{org}/packages/container/{package_name}/versions/{package_version_id}
    ... the same under /users/{username}/packages/... and /user/packages/... (the token's user)

Status codes as GitHub documents them: 200 (list, get), 204 (delete), 401 without
or with an unknown token, 403 when the token lacks `read:packages` (or, to delete,
`delete:packages`), 404 for an unknown owner, package or version, and 400 for the
last version of a package (GitHub refuses it; `refuse_last_version=False` allows it)
or an unsupported `X-GitHub-Api-Version`. Error bodies are `{"message",
"documentation_url"}`; every authenticated answer carries `X-OAuth-Scopes` and
`X-Accepted-OAuth-Scopes`. Lists are newest first, paged (`per_page` default 30, at
most 100) with a `Link` header.

With `registry_upstream="HOST:PORT"` it also plays ghcr.io's registry side: `/v2/...`
is proxied to that (real, open) registry, except that a DELETE of a manifest or blob
answers 405 as ghcr.io does; every manifest PUT adds (or re-tags) a package version;
and a REST delete of a version deletes its manifest upstream.

In a test:
    server = GhPackagesServer(tokens={"tok-full": ["read:packages", "delete:packages"],
                                      "tok-read": ["read:packages"]}, orgs=["acme"])
    base = server.start()                      # "http://127.0.0.1:PORT"
    server.add_version("acme", "app/cache", "sha256:...", ["v1"], "2026-01-02T03:04:05Z")
    ... server.requests, server.versions("acme", "app/cache") ...
    server.stop()

Standalone (prints its port on one line, serves until SIGTERM/SIGINT):
    ghpackages_server.py --port 0 --token tok-full=read:packages,delete:packages --org acme
"""

import argparse
import datetime
import http.client
import http.server
import itertools
import json
import signal
import sys
import threading
import urllib.parse

DOCS = "https://docs.github.com/rest/packages/packages"
READ, DELETE = "read:packages", "delete:packages"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-authenticate",
              "proxy-authorization", "te", "trailer", "upgrade", "content-length"}


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(value):
    """created_at as GitHub writes it: 'YYYY-MM-DDTHH:MM:SSZ'."""
    if value is None:
        return utc_now()
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


class GhPackagesServer:
    """The REST stand-in (and optionally the registry front), served from a thread."""

    def __init__(self, tokens, orgs=(), login="octocat", logins=None, refuse_last_version=True,
                 on_delete=None, registry_upstream=None, api_versions=("2022-11-28",),
                 host="127.0.0.1", port=0):
        self.tokens = {t: list(s) for t, s in tokens.items()}
        self.orgs = {o.lower() for o in orgs}
        self.login, self.logins = login, dict(logins or {})
        self.refuse_last_version, self.on_delete = refuse_last_version, on_delete
        self.registry_upstream, self.api_versions = registry_upstream, tuple(api_versions)
        self.host, self.port = host, port
        self.requests = []        # one dict per request served (see _record)
        self.lock = threading.RLock()
        self._packages = {}       # (owner, package) -> {"active": [version], "deleted": [version]}
        self._ids = itertools.count(100000001)
        self._httpd = self._thread = None
        self.base_url = None

    # ------------------------------------------------------------ seeding / reading
    def add_version(self, owner, package, digest, tags=(), created_at=None):
        """Adds a package version (owner and package are case-insensitive). Returns it."""
        created = _ts(created_at)
        with self.lock:
            pkg = self._packages.setdefault((owner.lower(), package.lower()), {"active": [], "deleted": []})
            v = {"id": next(self._ids), "name": digest, "created_at": created, "updated_at": created,
                 "metadata": {"package_type": "container", "container": {"tags": list(tags)}}}
            pkg["active"].append(v)
            return json.loads(json.dumps(v))

    def versions(self, owner, package, state="active"):
        """A copy of a package's versions, newest first ([] for an unknown package)."""
        with self.lock:
            pkg = self._packages.get((owner.lower(), package.lower()))
            vs = sorted(pkg[state] if pkg else [], key=lambda v: (v["created_at"], v["id"]), reverse=True)
            return json.loads(json.dumps(vs))

    def _tag_manifest(self, repo, digest, tag):
        """A manifest was pushed to repo (OWNER/PACKAGE...): mirror ghcr.io's package versions."""
        owner, _, package = repo.partition("/")
        if not package:
            return
        with self.lock:
            pkg = self._packages.setdefault((owner.lower(), package.lower()), {"active": [], "deleted": []})
            found = None
            for v in pkg["active"]:
                tags = v["metadata"]["container"]["tags"]
                if tag and tag in tags and v["name"] != digest:
                    tags.remove(tag)
                if v["name"] == digest:
                    found = v
            if found is None:
                found = self.add_version(owner, package, digest)
                found = next(v for v in pkg["active"] if v["id"] == found["id"])
            if tag and tag not in found["metadata"]["container"]["tags"]:
                found["metadata"]["container"]["tags"].append(tag)
                found["updated_at"] = utc_now()

    # ------------------------------------------------------------ lifecycle
    def start(self):
        """Starts serving in a daemon thread; returns the base URL."""
        server = self

        class Handler(_Handler):
            owner = server
        self._httpd = http.server.ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="ghpackages", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(10)
            self._httpd = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ REST logic
    def handle_rest(self, method, raw_path, query, headers):
        """Returns (status, extra_headers, body_obj_or_None)."""
        version = headers.get("X-GitHub-Api-Version")
        if version is not None and version not in self.api_versions:
            return 400, {}, {"message": f"Unsupported 'X-GitHub-Api-Version' header. Supported versions "
                                        f"are: {', '.join(self.api_versions)}",
                             "documentation_url": "https://docs.github.com/rest/overview/api-versions"}
        auth = headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if not auth:
            return 401, {}, {"message": "Requires authentication", "documentation_url": DOCS}
        if scheme.lower() not in ("bearer", "token") or token.strip() not in self.tokens:
            return 401, {}, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        token = token.strip()
        scopes = self.tokens[token]
        hdrs = {"X-OAuth-Scopes": ", ".join(scopes)}

        parts = raw_path.strip("/").split("/")
        if parts[:1] == ["user"]:
            owner, kind, rest = self.logins.get(token, self.login), "user", parts[1:]
        elif len(parts) >= 2 and parts[0] in ("orgs", "users"):
            owner, kind, rest = urllib.parse.unquote(parts[1]), parts[0][:-1], parts[2:]
        else:
            return 404, hdrs, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
        if len(rest) not in (4, 5) or rest[0] != "packages" or rest[3] != "versions" or \
                method not in ("GET", "DELETE") or (method == "DELETE" and len(rest) == 4):
            return 404, hdrs, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

        need = [READ, DELETE] if method == "DELETE" else [READ]
        hdrs["X-Accepted-OAuth-Scopes"] = ", ".join(need)
        missing = [s for s in need if s not in scopes]
        if missing:
            what = "delete a package version" if method == "DELETE" else "list packages"
            return 403, hdrs, {"message": f"You need at least {', '.join(missing)} scope to {what}.",
                               "documentation_url": DOCS}

        ptype, package = rest[1], urllib.parse.unquote(rest[2])
        is_org = owner.lower() in self.orgs
        with self.lock:
            pkg = self._packages.get((owner.lower(), package.lower()))
            if ptype != "container" or pkg is None or (kind == "org") != is_org:
                return 404, hdrs, {"message": "Package not found.", "documentation_url": DOCS}
            if len(rest) == 4:
                return self._list(pkg, owner, kind, package, query, raw_path, hdrs)
            version = next((v for v in pkg["active"] if str(v["id"]) == rest[4]), None)
            if version is None:
                return 404, hdrs, {"message": "Package version not found.", "documentation_url": DOCS}
            if method == "GET":
                return 200, hdrs, self._public(version, owner, kind, package)
            if self.refuse_last_version and len(pkg["active"]) == 1:
                return 400, hdrs, {"message": "You cannot delete the last version of a package. "
                                              "You must delete the package instead.", "documentation_url": DOCS}
            err = self._delete_upstream(owner, package, version)
            if err:
                return 500, hdrs, {"message": err, "documentation_url": DOCS}
            pkg["active"].remove(version)
            pkg["deleted"].append(version)
        if self.on_delete:
            self.on_delete(owner, package, json.loads(json.dumps(version)))
        return 204, hdrs, None

    def _list(self, pkg, owner, kind, package, query, raw_path, hdrs):
        def intarg(name, default):
            try:
                return int(query.get(name, default))
            except ValueError:
                return default
        per_page = min(max(intarg("per_page", 30), 1), 100)
        page = max(intarg("page", 1), 1)
        state = "deleted" if query.get("state") == "deleted" else "active"
        vs = sorted(pkg[state], key=lambda v: (v["created_at"], v["id"]), reverse=True)
        last = max(1, -(-len(vs) // per_page))
        links = []

        def link(p, rel):
            q = dict(query, per_page=str(per_page), page=str(p))
            links.append(f'<{self.base_url}{raw_path}?{urllib.parse.urlencode(q)}>; rel="{rel}"')
        if page > 1:
            link(min(page - 1, last), "prev")
        if page < last:
            link(page + 1, "next")
            link(last, "last")
        if page > 1:
            link(1, "first")
        if links:
            hdrs["Link"] = ", ".join(links)
        chunk = vs[(page - 1) * per_page:page * per_page]
        return 200, hdrs, [self._public(v, owner, kind, package) for v in chunk]

    def _public(self, v, owner, kind, package):
        """The version as the API shows it (with urls)."""
        enc = urllib.parse.quote(package, safe="")
        api_owner = f"{kind}s/{owner}" if kind == "org" else f"users/{owner}"
        html_owner = "orgs/" + owner if kind == "org" else "users/" + owner
        out = json.loads(json.dumps(v))
        out["url"] = f"{self.base_url}/{api_owner}/packages/container/{enc}/versions/{v['id']}"
        out["package_html_url"] = f"https://github.com/{html_owner}/packages/container/package/{enc}"
        out["html_url"] = f"https://github.com/{html_owner}/packages/container/{enc}/{v['id']}"
        return out

    def _delete_upstream(self, owner, package, version):
        """Deletes the version's manifest from the backing registry; returns an error or None."""
        if not self.registry_upstream:
            return None
        conn = http.client.HTTPConnection(self.registry_upstream, timeout=30)
        try:
            conn.request("DELETE", f"/v2/{owner.lower()}/{package.lower()}/manifests/{version['name']}")
            r = conn.getresponse()
            r.read()
            if r.status not in (202, 404):
                return f"registry delete answered {r.status}"
        except OSError as e:
            return f"registry delete failed: {e}"
        finally:
            conn.close()
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes /v2/ to the registry front and everything else to the REST logic."""

    protocol_version = "HTTP/1.1"
    owner = None  # the GhPackagesServer, set by a subclass

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _record(self, status, body=b""):
        auth = self.headers.get("Authorization") or ""
        parsed = urllib.parse.urlsplit(self.path)
        with self.owner.lock:
            self.owner.requests.append({
                "method": self.command, "path": parsed.path, "query": dict(urllib.parse.parse_qsl(parsed.query)),
                "status": status, "token": auth.partition(" ")[2].strip() or None,
                "api_version": self.headers.get("X-GitHub-Api-Version"), "accept": self.headers.get("Accept")})

    def _send(self, status, headers, payload, head=False):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and not head:
            self.wfile.write(payload)

    def _dispatch(self):
        body = self._body()
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path == "/v2" or parsed.path.startswith("/v2/"):
            return self._registry(body, parsed)
        status, hdrs, obj = self.owner.handle_rest(self.command, parsed.path,
                                                   dict(urllib.parse.parse_qsl(parsed.query)), self.headers)
        self._record(status)
        hdrs = dict(hdrs, **{"X-GitHub-Api-Version-Selected": self.owner.api_versions[0],
                             "X-GitHub-Media-Type": "github.v3; format=json"})
        payload = b"" if obj is None else json.dumps(obj).encode()
        if obj is not None:
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        self._send(status, hdrs, payload)

    def _registry(self, body, parsed):
        """ghcr.io's registry side: proxy to the upstream; DELETE is not allowed."""
        up = self.owner.registry_upstream
        segs = parsed.path.split("/")
        if not up:
            self._record(404)
            return self._send(404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"NOT_FOUND"}]}')
        if self.command == "DELETE":
            self._record(405)
            return self._send(405, {"Content-Type": "application/json"},
                              b'{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}')
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if body or self.command in ("PUT", "POST", "PATCH"):
            headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(up, timeout=120)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            out = {k: v for k, v in r.getheaders() if k.lower() not in HOP_BY_HOP}
            if self.command == "HEAD" and r.getheader("Content-Length"):
                out["Content-Length"] = r.getheader("Content-Length")
        finally:
            conn.close()
        if self.command == "PUT" and r.status == 201 and len(segs) >= 5 and segs[-2] == "manifests":
            repo, ref = "/".join(segs[2:-2]), urllib.parse.unquote(segs[-1])
            digest = r.getheader("Docker-Content-Digest") or ref
            self.owner._tag_manifest(repo, digest, None if ref.startswith("sha256:") else ref)
        self._record(r.status)
        self._send(r.status, out, data, head=self.command == "HEAD")

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _dispatch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", action="append", default=[], metavar="TOKEN=SCOPE,SCOPE",
                    help="a token and its scopes (repeatable)")
    ap.add_argument("--org", action="append", default=[], help="an owner that is an organization")
    ap.add_argument("--login", default="octocat", help="the user /user/... stands for")
    ap.add_argument("--upstream", help="HOST:PORT of an open registry to front as ghcr.io does")
    ap.add_argument("--seed", help="JSON file: [{owner, package, digest, tags, created_at}]")
    ap.add_argument("--allow-last-version", action="store_true", help="let the last version be deleted")
    a = ap.parse_args()
    tokens = {}
    for t in a.token:
        name, _, scopes = t.partition("=")
        tokens[name] = [s for s in scopes.split(",") if s]
    server = GhPackagesServer(tokens, orgs=a.org, login=a.login, registry_upstream=a.upstream,
                              refuse_last_version=not a.allow_last_version, port=a.port)
    if a.seed:
        with open(a.seed, encoding="utf-8") as f:
            for v in json.load(f):
                server.add_version(v["owner"], v["package"], v["digest"], v.get("tags", ()), v.get("created_at"))
    # The handlers go in before the port is printed: whoever reads the port may stop the
    # server at once, and a SIGTERM before them killed it (exit -15) on a busy machine.
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    print(server.port, flush=True)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
