#!/usr/bin/python3
"""A fault-injecting HTTP/1.1 reverse proxy for regcache's reliability tests.

It listens on 127.0.0.1 in front of one plain-HTTP registry (the upstream), forwards
every request (keep-alive, Content-Length or chunked request bodies) and rewrites the
upstream's address in `Location` and `Link` headers to its own. Rules, set per test,
make it misbehave on chosen requests: cut a response mid-body, reset a connection,
stall, truncate, flip a byte, answer an error status, ignore `Range`, or redirect to
another port. It records every request it saw (never a header's secret value).

In-process use (what tests/integration/test_faults.py does):

    p = FaultProxy("127.0.0.1:5000").start()
    p.set_rules([{"method": "GET", "path": r"/blobs/sha256:", "nth": 1,
                  "action": "reset_mid_body"}])
    ... run regcache against p.address ...
    p.log            # a list of dicts, one per request
    p.stop()

It can also stand for a registry whose token service shares its host (as ghcr.io's
`/token` does): `tls` makes it answer HTTPS with a given certificate, `routes` sends
requests whose path starts with a prefix to another upstream (the token server), and
`public` names the address clients reach it by (a link emulator's), which rewritten
`Location` and `Link` headers then carry, with https:// under TLS.

Standalone: `fault_proxy.py --upstream 127.0.0.1:5000 --port 0` prints the port it
listens on, then serves until SIGINT/SIGTERM. Rules are set over HTTP on the proxy
itself: `POST /__fault/script` (a JSON list of rules, or {"rules": [...]}),
`GET /__fault/log`, `POST /__fault/reset` (clears rules and log).

A rule is a dict:
    method  regex, fully matched against the method (default: any)
    path    regex, searched in the request target, query included (default: any)
    range   True/False: only requests with/without a Range header (default: either)
    nth     fire on the Nth matching request (1-based; the default is nth=1)
    first_n fire on each of the first N matching requests
    always  fire on every matching request
    action  one of ACTIONS below, with its parameters:
      reset_request   close (RST) on arrival, answering nothing
      reset_mid_body  forward, send headers and `after` body bytes (default half), wait
                      `linger` s (default 0.1, so the client reads them), then RST.
                      An empty body is cut inside the headers instead.
      truncate        like reset_mid_body, but a clean close (FIN) after the short body
      stall           forward, stop for `seconds`, then go on; `where` is "headers"
                      (before anything is sent, the default) or "body" (after `after` bytes)
      corrupt_byte    forward, flip the byte at `offset` (default: the middle) of the body
      status          answer `status` (default 503) with a registry-style error body,
                      `Retry-After: retry_after` when given
      ignore_range    forward without the Range header (a server that does not honour it)
      redirect        answer `code` (default 307) to http://`target` + the same path
Every matching rule counts the request; the first rule that fires acts on it.
"""

import argparse
import http.client
import json
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time

ACTIONS = ("reset_request", "reset_mid_body", "truncate", "stall", "corrupt_byte", "status",
           "ignore_range", "redirect")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "expect", "content-length"}
REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
           301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}
ERROR_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 404: "BLOB_UNKNOWN", 429: "TOOMANYREQUESTS"}


class _Closed(Exception):
    """The client went away, or a rule ended the connection."""


class Rule:
    def __init__(self, spec):
        unknown = set(spec) - {"method", "path", "range", "nth", "first_n", "always", "action", "after",
                               "seconds", "where", "offset", "status", "retry_after", "target", "code",
                               "linger", "note"}
        if unknown:
            raise ValueError(f"unknown rule fields {sorted(unknown)}")
        if spec.get("action") not in ACTIONS:
            raise ValueError(f"unknown action {spec.get('action')!r}")
        self.spec = dict(spec)
        self.method = re.compile(spec.get("method") or ".*")
        self.path = re.compile(spec.get("path") or "")
        self.seen = 0

    def matches(self, method, target, has_range):
        want_range = self.spec.get("range")
        if want_range is not None and bool(want_range) != has_range:
            return False
        return bool(self.method.fullmatch(method) and self.path.search(target))

    def fires(self):
        s = self.spec
        if s.get("always"):
            return True
        if "first_n" in s:
            return self.seen <= s["first_n"]
        return self.seen == s.get("nth", 1)


class FaultProxy:
    """The proxy. `upstream` is "HOST:PORT" (plain HTTP). `upstream_headers` are set on
    every forwarded request (replacing the client's), e.g. an Authorization the redirect
    target uses in place of a presigned URL."""

    def __init__(self, upstream, port=0, host="127.0.0.1", upstream_headers=None, tls=None,
                 routes=None, public=None):
        self.upstream = upstream
        self.upstream_headers = dict(upstream_headers or {})
        self.routes = dict(routes or {})  # path prefix -> "HOST:PORT" (plain HTTP)
        self._tls = None
        if tls:  # (certificate file, key file)
            self.use_tls(*tls)
        self._lock = threading.Lock()
        self._rules = []
        self._log = []
        self._stop = threading.Event()
        self._conns = {}
        self._threads = []
        self._seq = 0
        self._listener = socket.create_server((host, port))
        self.host, self.port = self._listener.getsockname()[:2]
        self.address = f"{self.host}:{self.port}"
        self.public = public or self.address
        self._acceptor = None

    # --- control -------------------------------------------------------------------
    def use_tls(self, cert, key):
        """Answers HTTPS with this certificate and key (PEM files) from now on. Like a registry
        in Go, it offers HTTP/2 before HTTP/1.1 (ALPN); it speaks only HTTP/1.1, so a client
        that takes HTTP/2 is logged as "not HTTP". Each entry's `alpn` says what was agreed."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        self._tls = ctx

    def start(self):
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"fault-proxy-{self.port}",
                                          daemon=True)
        self._acceptor.start()
        return self

    def stop(self):
        self._stop.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns = list(self._conns.values())
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._acceptor:
            self._acceptor.join(5)
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def set_rules(self, rules):
        parsed = [Rule(r) for r in rules]
        with self._lock:
            self._rules = parsed

    def reset(self):
        with self._lock:
            self._rules = []
            self._log = []

    @property
    def log(self):
        with self._lock:
            return [dict(e) for e in self._log]

    def fired(self):
        """Log entries a rule acted on."""
        return [e for e in self.log if e.get("action")]

    # --- serving -------------------------------------------------------------------
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            with self._lock:  # started under the lock: stop() joins only started threads
                self._threads = [x for x in self._threads if x.is_alive()] + [t]
                self._conns[id(sock)] = sock
                t.start()

    def _serve(self, sock):
        upstream = {}  # upstream address -> its keep-alive connection
        rfile = None
        key = id(sock)
        alpn = None  # the protocol agreed in the TLS handshake, if any
        try:
            if self._tls:
                sock = self._tls.wrap_socket(sock, server_side=True)
                alpn = sock.selected_alpn_protocol()
                with self._lock:
                    self._conns[key] = sock  # what stop() shuts down
            rfile = sock.makefile("rb")
            while not self._stop.is_set():
                if not self._one_request(sock, rfile, upstream, alpn):
                    break
        except (_Closed, OSError, ValueError):
            pass
        finally:
            for conn in upstream.values():
                if conn is not None:
                    conn.close()
            with self._lock:
                self._conns.pop(key, None)
            try:
                if rfile is not None:
                    rfile.close()
                sock.close()
            except OSError:
                pass

    def _record(self, **entry):
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._log.append(entry)
            return entry

    def _choose(self, method, target, has_range):
        with self._lock:
            chosen = None
            for i, r in enumerate(self._rules):
                if r.matches(method, target, has_range):
                    r.seen += 1
                    if chosen is None and r.fires():
                        chosen = (i, r.spec)
            return chosen

    def _one_request(self, sock, rfile, upstream, alpn=None):
        line = rfile.readline(65537)
        if not line:
            return False
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._record(method=None, path="", range=None, auth=False, action=None, rule=None, status=None,
                         sent_body=None, body_len=None, note="not HTTP (a TLS probe?)", alpn=alpn,
                         t=time.time())
            return False
        method, target, version = parts
        headers = []
        while True:
            h = rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        hmap = {k.lower(): v for k, v in headers}
        keep_alive = hmap.get("connection", "").lower() != "close" and version == "HTTP/1.1"

        if target.startswith("/__fault/"):
            body = self._read_body(rfile, hmap, sock)
            return self._control(sock, method, target, body) and keep_alive

        entry = self._record(method=method, path=target, range=hmap.get("range"),
                             auth="authorization" in hmap, action=None, rule=None, status=None,
                             sent_body=None, body_len=None, alpn=alpn, t=time.time())
        chosen = self._choose(method, target, "range" in hmap)
        spec = chosen[1] if chosen else {}
        action = spec.get("action")
        if chosen:
            entry.update(action=action, rule=chosen[0])

        if action == "reset_request":
            _reset(sock)
            raise _Closed()
        if action in ("status", "redirect"):
            if "expect" in hmap or not self._has_body(hmap):
                keep_alive = keep_alive and "expect" not in hmap
            else:
                self._read_body(rfile, hmap, sock)
            if action == "status":
                code = spec.get("status", 503)
                extra = [("Retry-After", str(spec["retry_after"]))] if "retry_after" in spec else []
                name = ERROR_CODES.get(code, "UNAVAILABLE")
                if code == 404:
                    name = ("BLOB_UPLOAD_UNKNOWN" if "/blobs/uploads/" in target else
                            "MANIFEST_UNKNOWN" if "/manifests/" in target else name)
                msg = json.dumps({"errors": [{"code": name,
                                              "message": f"injected {code}", "detail": None}]}).encode()
                self._send(sock, entry, code, extra + [("Content-Type", "application/json")],
                           msg, method, keep_alive)
            else:
                loc = f"http://{spec['target']}{target}"
                self._send(sock, entry, spec.get("code", 307), [("Location", loc)], b"", method,
                           keep_alive)
            return keep_alive

        body = self._read_body(rfile, hmap, sock)
        fwd = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() != "host"]
        if action == "ignore_range":
            fwd = [(k, v) for k, v in fwd if k.lower() != "range"]
        if self.upstream_headers:
            names = {k.lower() for k in self.upstream_headers}
            fwd = [(k, v) for k, v in fwd if k.lower() not in names] + list(self.upstream_headers.items())
        to = next((a for prefix, a in self.routes.items() if target.startswith(prefix)),
                  self.upstream)
        try:
            status, rheaders, rbody = self._forward(upstream, to, method, target, fwd, body)
        except (OSError, http.client.HTTPException) as e:
            entry["upstream_error"] = str(e)
            self._send(sock, entry, 502, [], b"upstream: " + str(e).encode(), method, False)
            return False
        entry["upstream_status"] = status
        out = []
        for k, v in rheaders:
            if k.lower() in HOP_BY_HOP and not (k.lower() == "content-length" and method == "HEAD"):
                continue
            if k.lower() in ("location", "link"):
                scheme = "https:" if self._tls else "http:"
                v = v.replace(f"http://{self.upstream}", f"{scheme}//{self.public}")
                v = v.replace(f"//{self.upstream}", f"//{self.public}")
            out.append((k, v))
        if action == "stall" and spec.get("where", "headers") == "headers":
            if self._stop.wait(spec.get("seconds", 5)):
                raise _Closed()
        self._send(sock, entry, status, out, rbody, method, keep_alive, spec)
        return keep_alive

    def _forward(self, upstream, to, method, target, headers, body):
        """One request to upstream `to` on this connection's keep-alive connection to it."""
        host, port = to.rsplit(":", 1)
        for attempt in range(2):
            if upstream.get(to) is None:
                upstream[to] = http.client.HTTPConnection(host, int(port), timeout=60)
            conn = upstream[to]
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", to)
                for k, v in headers:
                    conn.putheader(k, v)
                if body is not None or method in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(len(body or b"")))
                conn.endheaders(body or None)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    conn.close()
                    upstream[to] = None
                return resp.status, resp.getheaders(), data
            except (OSError, http.client.HTTPException):
                conn.close()
                upstream[to] = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _has_body(hmap):
        return "transfer-encoding" in hmap or int(hmap.get("content-length", "0") or 0) > 0

    def _read_body(self, rfile, hmap, sock):
        if "expect" in hmap and hmap["expect"].lower() == "100-continue" and self._has_body(hmap):
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in hmap.get("transfer-encoding", "").lower():
            out = bytearray()
            while True:
                size = int(rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(out)
                out += _read_exact(rfile, size)
                rfile.readline(16)
        n = int(hmap.get("content-length", "0") or 0)
        return _read_exact(rfile, n) if n else (b"" if "content-length" in hmap else None)

    def _send(self, sock, entry, status, headers, body, method, keep_alive, spec=None):
        spec = spec or {}
        action = spec.get("action")
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        head += [f"{k}: {v}" for k, v in headers]
        if method != "HEAD" and status not in (204, 304):
            head.append(f"Content-Length: {len(body)}")
        if not keep_alive:
            head.append("Connection: close")
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if method == "HEAD" or status in (204, 304):
            body = b""
        entry.update(status=status, body_len=len(body))
        if action == "corrupt_byte" and body:
            off = min(spec.get("offset", len(body) // 2), len(body) - 1)
            body = body[:off] + bytes([body[off] ^ 0xFF]) + body[off + 1:]
            entry["corrupted_offset"] = off
        if action in ("reset_mid_body", "truncate"):
            if body:
                cut = min(spec.get("after", len(body) // 2), len(body) - 1)
                sock.sendall(head_bytes + body[:cut])
            else:
                cut = 0
                sock.sendall(head_bytes[:len(head_bytes) // 2])
            entry["sent_body"] = cut
            if action == "reset_mid_body":
                # let the client read what was sent: an RST makes Linux drop unread data
                self._stop.wait(spec.get("linger", 0.1))
                _reset(sock)
            else:
                sock.shutdown(socket.SHUT_WR)
            raise _Closed()
        if action == "stall" and spec.get("where") == "body" and body:
            cut = min(spec.get("after", len(body) // 2), len(body))
            sock.sendall(head_bytes + body[:cut])
            if self._stop.wait(spec.get("seconds", 5)):
                raise _Closed()
            sock.sendall(body[cut:])
        else:
            sock.sendall(head_bytes + body)
        entry["sent_body"] = len(body)

    def _control(self, sock, method, target, body):
        entry = {"method": method, "path": target}
        try:
            if method == "POST" and target.startswith("/__fault/script"):
                rules = json.loads(body or b"[]")
                self.set_rules(rules["rules"] if isinstance(rules, dict) else rules)
                out = {"ok": True}
            elif method == "POST" and target.startswith("/__fault/reset"):
                self.reset()
                out = {"ok": True}
            elif method == "GET" and target.startswith("/__fault/log"):
                out = self.log
            else:
                raise ValueError(f"no control endpoint {method} {target}")
            code = 200
        except (ValueError, KeyError, TypeError) as e:
            out, code = {"error": str(e)}, 400
        self._send(sock, entry, code, [("Content-Type", "application/json")],
                   json.dumps(out).encode(), method, True)
        return True


def _read_exact(rfile, n):
    data = rfile.read(n)
    if len(data) != n:
        raise _Closed()
    return data


def _reset(sock):
    """Closes with an RST rather than a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the plain-HTTP registry")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    ap.add_argument("--script", help="a JSON file of rules to start with")
    ap.add_argument("--tls-cert", help="answer HTTPS with this certificate (PEM; with --tls-key)")
    ap.add_argument("--tls-key", help="the certificate's private key (PEM)")
    ap.add_argument("--route", action="append", default=[], metavar="PREFIX=HOST:PORT",
                    help="send requests whose path starts with PREFIX to this upstream instead")
    ap.add_argument("--public", help="HOST:PORT clients reach the proxy by (rewritten Location)")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    routes = {}
    for r in args.route:
        prefix, sep, to = r.partition("=")
        if not sep or not prefix.startswith("/") or ":" not in to:
            ap.error(f"--route wants PREFIX=HOST:PORT, got {r!r}")
        routes[prefix] = to
    proxy = FaultProxy(args.upstream, port=args.port,
                       tls=(args.tls_cert, args.tls_key) if args.tls_cert else None,
                       routes=routes, public=args.public)
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            rules = json.load(f)
        proxy.set_rules(rules["rules"] if isinstance(rules, dict) else rules)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    proxy.start()
    print(proxy.port, flush=True)
    done.wait()
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
