#!/usr/bin/python3
"""A minimal Docker registry token server for the regcache test harness.

It implements the token half of the Docker/distribution token auth protocol:

    GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]

with optional HTTP Basic credentials.  Rules:

  * correct credentials   -> every requested action is granted;
  * wrong credentials     -> 401 (Basic challenge), no token;
  * no credentials        -> only `pull` on repositories under `public/`;
  * no scope at all       -> a token with an empty access list (a "login").

The token is a JWT signed ES256 with the key whose self-signed certificate the
registry trusts as its `rootcertbundle`; the certificate travels in the `x5c`
header.  PyJWT produces the raw r||s signature that distribution expects.

Every /token request is appended as one JSON line to the request log (never
the password or the Authorization header), so tests can count token fetches.
GET /healthz answers 200 and is not logged.

Usage: token_server.py --config CONFIG.json
CONFIG.json (written by services.py) holds: host, port (0 = any), port_file,
key (PEM private key), cert (PEM certificate), user, password, service,
issuer, request_log, expires_in.
"""

import argparse
import base64
import binascii
import datetime
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization


def parse_scope(text):
    """Splits 'type:name:actions' into (type, name, [actions]), or None."""
    first = text.find(":")
    last = text.rfind(":")
    if first < 0 or last == first:
        return None
    kind, name, actions = text[:first], text[first + 1:last], text[last + 1:]
    if not kind or not name:
        return None
    return kind, name, [a for a in actions.split(",") if a]


def requested_scopes(query):
    """Returns the scope strings of a query (repeated and/or space-separated)."""
    out = []
    for value in query.get("scope", []):
        out.extend(s for s in value.split(" ") if s)
    return out


def grant(scopes, authenticated):
    """Returns the access list granted for the requested scopes (one entry per resource)."""
    merged = {}  # (type, name) -> ordered set of actions; dicts keep insertion order
    for text in scopes:
        parsed = parse_scope(text)
        if parsed is None:
            continue
        kind, name, actions = parsed
        if authenticated:
            allowed = actions
        elif kind == "repository" and name.startswith("public/") and "pull" in actions:
            allowed = ["pull"]
        else:
            allowed = []
        if allowed:
            merged.setdefault((kind, name), {}).update(dict.fromkeys(allowed))
    return [{"type": kind, "name": name, "actions": list(actions)}
            for (kind, name), actions in merged.items()]


class TokenIssuer:
    """Holds the signing material and mints tokens."""

    def __init__(self, cfg):
        with open(cfg["key"], "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(cfg["cert"], "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        der = cert.public_bytes(serialization.Encoding.DER)
        self.x5c = [base64.b64encode(der).decode("ascii")]
        self.issuer = cfg["issuer"]
        self.service = cfg["service"]
        self.expires_in = int(cfg.get("expires_in", 300))

    def mint(self, subject, access):
        """Returns (token, issued_at_rfc3339)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        token = jwt.encode(claims, self.key, algorithm="ES256",
                           headers={"typ": "JWT", "x5c": self.x5c})
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        return token, issued.strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "regcache-test-token/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    def _send_json(self, status, body, extra_headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _credentials(self):
        """Returns (user, password) from Basic auth, None if absent, or False if malformed."""
        header = self.headers.get("Authorization")
        if not header:
            return None
        kind, _, value = header.partition(" ")
        if kind.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else False

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            self._send_json(200, {"ok": True})
            return
        if url.path != "/token":
            self._send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
            return
        self._token(urllib.parse.parse_qs(url.query, keep_blank_values=True))

    def _token(self, query):
        cfg = self.server.cfg
        scopes = requested_scopes(query)
        service = query.get("service", [cfg["service"]])[0]
        creds = self._credentials()
        entry = {"time": time.time(), "service": service, "scopes": scopes,
                 "account": query.get("account", [None])[0]}
        if creds is None:
            entry["auth"], entry["user"] = "anonymous", None
        else:
            ok = (creds is not False
                  and secrets.compare_digest(creds[0].encode(), cfg["user"].encode())
                  and secrets.compare_digest(creds[1].encode(), cfg["password"].encode()))
            entry["auth"] = "ok" if ok else "bad"
            entry["user"] = creds[0] if creds else None

        if entry["auth"] == "bad":
            entry["status"] = 401
            self.server.log_request_entry(entry)
            self._send_json(401, {"errors": [{"code": "UNAUTHORIZED",
                                              "message": "invalid username or password"}]},
                            [("WWW-Authenticate", 'Basic realm="regcache-test-token"')])
            return
        if service != cfg["service"]:
            entry["status"] = 400
            self.server.log_request_entry(entry)
            self._send_json(400, {"errors": [{"code": "UNSUPPORTED",
                                              "message": "unknown service %r" % service}]})
            return

        access = grant(scopes, entry["auth"] == "ok")
        token, issued_at = self.server.issuer.mint(entry["user"] or "", access)
        entry["granted"] = access
        entry["status"] = 200
        self.server.log_request_entry(entry)
        self._send_json(200, {"token": token, "access_token": token,
                              "expires_in": self.server.issuer.expires_in,
                              "issued_at": issued_at})


class TokenServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, cfg):
        self.cfg = cfg
        self.issuer = TokenIssuer(cfg)
        self._log_lock = threading.Lock()
        self._log = open(cfg["request_log"], "a", encoding="utf-8")
        super().__init__((cfg.get("host", "127.0.0.1"), int(cfg.get("port", 0))), Handler)

    def log_request_entry(self, entry):
        line = json.dumps(entry, sort_keys=True)
        with self._log_lock:
            self._log.write(line + "\n")
            self._log.flush()


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    args = ap.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    server = TokenServer(cfg)
    if cfg.get("port_file"):
        write_port_file(cfg["port_file"], server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
