"""A registry that answers every request type with malformed JSON (wrong types, truncated,
huge), a token service with a number for a token, a Retry-After of 400 digits: every
command ends with exit 1 and a one-line message (a restore whose --timeout runs out first
reports a miss, as documented), never a crash (an escaping exception
once aborted regcache with exit 134). The registry is a small server of this test: only
it can lie this way."""
import concurrent.futures
import http.server
import json
import os
import threading
import unittest

from common import RegcacheTestCase, make_small_tree

HUGE = "[" * (5 << 20)

# What the liar answers, per scenario: (status, body, extra headers) for each kind of request.
SCENARIOS = {
    "error-code-number": lambda kind: (500, json.dumps({"errors": [{"code": 123, "message": {"x": 1}}]}), {}),
    "errors-not-a-list": lambda kind: (400, json.dumps({"errors": "no"}), {}),
    "truncated": lambda kind: (200 if kind in ("manifest", "tags") else 500, '{"errors":[{"code":"BLOB_UNK', {}),
    "wrong-types": lambda kind: (200, json.dumps({
        "manifest": {"schemaVersion": "2", "mediaType": 1, "config": [], "layers": "x",
                     "annotations": {"dev.regcache.key": 5}},
        "tags": {"name": 1, "tags": {"a": 1}},
    }.get(kind, {"x": 1})), {}),
    "huge": lambda kind: (200 if kind in ("manifest", "tags") else 500, HUGE, {}),
    "retry-after-400-digits": lambda kind: (429, "{}", {"Retry-After": "9" * 400}),
    "token-number": "token",
    "challenge-garbage": "challenge",
}


def kind_of(method, path):
    if path == "/v2/" or path == "/v2":
        return "ping"
    if path.startswith("/token"):
        return "token"
    if "/manifests/" in path:
        return "manifest"
    if "/tags/list" in path:
        return "tags"
    if "/blobs/uploads" in path:
        return "upload"
    return "blob"


class Liar(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    scenario = None

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers):
        data = body.encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data) if self.command != "HEAD" else 0))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        kind = kind_of(self.command, self.path)
        mode = SCENARIOS[self.scenario]
        host = self.headers.get("Host")
        if mode == "token":
            if kind == "token":
                return self.answer(200, json.dumps({"token": 12345}), {})
            if "Authorization" not in self.headers:
                return self.answer(401, "{}", {"WWW-Authenticate": f'Bearer realm="http://{host}/token",service="x"'})
            return self.answer(500, "{}", {})
        if mode == "challenge":
            return self.answer(401, "{}", {"WWW-Authenticate": 'Bearer realm="\x01",,,=,"' + "x" * 5000})
        if kind == "ping":
            return self.answer(200, "{}", {})
        return self.answer(*mode(kind))

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class MalformedRepliesTest(RegcacheTestCase):

    def serve(self, scenario):
        handler = type("Handler", (Liar,), {"scenario": scenario})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.handle_error = lambda request, address: None  # a client that hung up is expected
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"127.0.0.1:{server.server_address[1]}/lies/cache"

    def test_every_command_fails_cleanly(self):
        make_small_tree(os.path.join(self.ws, "t"))
        env = {"REGCACHE_RETRY_DELAY_MS": "1", "REGCACHE_STALL_TIMEOUT": "5",
               "REGCACHE_USERNAME": "u", "REGCACHE_PASSWORD": "p"}
        commands = [["save", "--key", "k", "t"], ["restore", "--key", "k", "--restore-key", "k"],
                    ["restore", "--key", "k", "--lookup-only"], ["list"], ["delete", "k"],
                    ["prune", "--older-than", "1d"]]
        jobs = []
        for scenario in SCENARIOS:
            store = self.serve(scenario)
            # Retry-After is capped at 30 s a wait: bound those runs by --timeout instead.
            run = commands if scenario != "retry-after-400-digits" else [
                ["save", "--key", "k", "t", "--timeout", "3"], ["restore", "--key", "k", "--timeout", "3"]]
            jobs += [(scenario, store, args) for args in run]

        def call(job):
            _, store, args = job
            return self.regcache("--store", store, "--json", *args, env=env, timeout=120)

        # Four at a time: most of the time goes to retries and budgets waited out.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(call, jobs))
        for (scenario, _, args), (rc, out, err) in zip(jobs, results):
            with self.subTest(scenario=scenario, command=args[0]):
                self.assertNotIn("terminate called", err)
                got = json.loads(out)  # one JSON value whatever happened
                if scenario == "retry-after-400-digits" and args[0] == "restore":
                    self.assertEqual((rc, got["result"]), (0, "miss"), err[-2000:])
                    self.assertIn("timed out", err)
                    continue
                self.assertEqual(rc, 1, f"exit {rc}: {err[-2000:]}")
                self.assertEqual(got["result"], "error")
                self.assertTrue(err.strip().splitlines()[-1].startswith("regcache: error: "), err[-500:])
                self.assertLess(len(err.splitlines()[-1]), 2000, "an unbounded message")

if __name__ == "__main__":
    unittest.main()
