#!/usr/bin/python3
"""A forward proxy of the kind CI machines sit behind, for tests/integration/test_proxy.py.

It listens on 127.0.0.1 and opens CONNECT tunnels (what an HTTPS request through a proxy
uses), optionally only for clients sending `Proxy-Authorization: Basic user:password`
(407 otherwise). It records each CONNECT target and whether it was allowed; nothing else
of the tunnelled bytes, which are TLS.

    p = ConnectProxy(user="u", password="p").start()
    ... HTTPS_PROXY=http://u:p@{p.address} regcache ...
    p.log    # [{"target": "127.0.0.1:5000", "status": 200}, ...]
    p.stop() # closes the listener and every tunnel
"""

import base64
import select
import socket
import threading


class ConnectProxy:
    def __init__(self, user=None, password=None):
        self.user, self.password = user, password
        self.log = []
        self._lock = threading.Lock()
        self._socks = set()
        self._threads = []
        self._stopping = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.address = "127.0.0.1:%d" % self._listener.getsockname()[1]

    def start(self):
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        with self._lock:
            self._stopping = True
            socks = list(self._socks)
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(timeout=10)
        for s in socks:
            s.close()

    def _track(self, s):
        with self._lock:
            if self._stopping:
                return False
            self._socks.add(s)
            return True

    def _accept(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if not self._track(conn):
                conn.close()
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._threads.append(t)
            t.start()

    def _read_head(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk or len(data) > 65536:
                return None, b""
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        return head.decode("latin-1").split("\r\n"), rest

    def _authorized(self, lines):
        if self.user is None:
            return True
        want = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "proxy-authorization" and value.strip() == want:
                return True
        return False

    def _serve(self, conn):
        upstream = None
        try:
            lines, rest = self._read_head(conn)
            if not lines:
                return
            parts = lines[0].split(" ")
            if len(parts) != 3 or parts[0] != "CONNECT":
                conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            target = parts[1]
            if not self._authorized(lines):
                self.log.append({"target": target, "status": 407})
                conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b"Proxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection((host, int(port)), timeout=10)
            except (OSError, ValueError):
                self.log.append({"target": target, "status": 502})
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            if not self._track(upstream):
                return
            self.log.append({"target": target, "status": 200})
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            self._pipe(conn, upstream)
        except OSError:
            pass
        finally:
            for s in (conn, upstream):
                if s is not None:
                    with self._lock:
                        self._socks.discard(s)
                    s.close()

    def _pipe(self, a, b):
        upstream_of = {a: b, b: a}
        while True:
            ready, _, _ = select.select([a, b], [], [], 60)
            if not ready:
                return
            for s in ready:
                chunk = s.recv(65536)
                if not chunk:
                    return
                upstream_of[s].sendall(chunk)
