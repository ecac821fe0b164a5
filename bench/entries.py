#!/usr/bin/python3
"""Repositories with many entries (bench/run.sh; stdlib only).

  entries.py --registry HOST:PORT --log ACCESS_LOG --regcache BIN --sizes "100 1000 10000"
             --work DIR --out entries.tsv [--runs 3]

For each size N it pushes N small entry manifests straight to the plain-HTTP registry
(keys build-00000.., each newer than the one before, all naming the same two blobs: what
a ccache-style key-per-run repository looks like), then measures with regcache:
  * lookup, no index: `restore --lookup-only` of a key that has no entry with the restore
    key `build-`, with REGCACHE_LOOKUP_INDEX=0 (every matching manifest is read, as before
    the index existed);
  * lookup, first: the same with the index on, when there is none yet: it reads every
    manifest and writes the index;
  * lookup: the same once the index holds every entry;
  * list, no index / list: `list --json`, without and with the index;
  * save: a save of a one-file tree under a new key, on the base the lookups matched (the
    restore state file, as in a CI job); it adds its row to the index.
Each is timed `--runs` times (the median is kept; the first lookup only once, since it
changes the repository) and its requests are counted from the registry's log (lines
regcache's user agent in its access log, tag-list pages apart).
Every lookup must match build-(N-1) and every listing show N (or N+1) entries, else it
stops. Output: one TSV row per size and operation.
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def die(msg):
    print(f"entries.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


class Registry:
    """A keep-alive HTTP client per thread for pushing entries."""

    def __init__(self, host):
        self.host = host
        self.local = threading.local()

    def conn(self):
        if not hasattr(self.local, "c"):
            self.local.c = http.client.HTTPConnection(self.host, timeout=60)
        return self.local.c

    def request(self, method, path, body=None, headers=None):
        c = self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, r.getheader("Location"), data

    def put_blob(self, repo, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        st, loc, body = self.request("POST", f"/v2/{repo}/blobs/uploads/", b"")
        if st != 202:
            die(f"POST upload: HTTP {st} {body[:200]!r}")
        if loc.startswith("http"):
            loc = loc.split(self.host, 1)[1]
        sep = "&" if "?" in loc else "?"
        st, _, body = self.request("PUT", f"{loc}{sep}digest={digest}", data,
                                   {"Content-Type": "application/octet-stream"})
        if st != 201:
            die(f"PUT blob: HTTP {st} {body[:200]!r}")
        return {"digest": digest, "size": len(data)}

    def put_manifest(self, repo, tag, data):
        st, _, body = self.request("PUT", f"/v2/{repo}/manifests/{tag}", data,
                                   {"Content-Type": OCI_MANIFEST})
        if st not in (200, 201):
            die(f"PUT manifest {tag}: HTTP {st} {body[:200]!r}")


def key_at(i):
    return f"build-{i:05d}"


def created_at(i):
    t = time.gmtime(1_700_000_000 + 60 * i)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


def push_entries(reg, repo, n, threads=4):
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}).encode()
    cfg = reg.put_blob(repo, config)
    layer = reg.put_blob(repo, b"entry layer bytes")
    cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd"

    def one(i):
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [layer],
             "annotations": {"dev.regcache.key": key_at(i), "dev.regcache.format": "1",
                             "org.opencontainers.image.created": created_at(i),
                             "dev.regcache.roots": '["ws/cache"]', "dev.regcache.files": "1",
                             "dev.regcache.size": "17"}}
        reg.put_manifest(repo, key_at(i), json.dumps(m).encode())

    def worker(start):
        for i in range(start, n, threads):
            one(i)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


# The registry's access log (tests/harness/services.py --access-log), combined format.
ACCESS = re.compile(r'"[A-Z]+ (\S+) HTTP/[^"]*" \d+ \S+ "[^"]*" "regcache/')


def count_requests(log, offset):
    """Counts regcache's requests logged after offset: (all, tag-list pages)."""
    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        uris = [m.group(1) for m in map(ACCESS.search, f) if m]
    return len(uris), sum("/tags/list" in u for u in uris)


def log_size(log):
    # The registry writes its log lines as requests complete; a short pause lets the last
    # ones land before they are counted.
    time.sleep(0.2)
    return os.path.getsize(log)


def run_regcache(args, env_extra, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGCACHE_")}
    env.update(env_extra)
    t0 = time.monotonic()
    p = subprocess.run(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        die(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.decode(errors='replace')[-500:]}")
    return wall, json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--registry", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--regcache", required=True)
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    a.regcache = os.path.abspath(a.regcache)
    reg = Registry(a.registry)
    os.makedirs(os.path.join(a.work, "ws", "cache"), exist_ok=True)
    with open(os.path.join(a.work, "ws", "cache", "f"), "w") as f:
        f.write("one file\n")
    rows = []
    for n in [int(s) for s in a.sizes.split()]:
        repo = f"bench/entries-{n}-{os.getpid()}"
        store = f"{a.registry}/{repo}"
        t0 = time.monotonic()
        push_entries(reg, repo, n)
        print(f"   entries-{n}: pushed {n} entries in {time.monotonic() - t0:.1f} s", flush=True)
        base = [a.regcache, "--store", store, "--json"]
        lookup = base + ["restore", "--lookup-only", "--key", "no-such-key", "--restore-key",
                         "build-", "cache"]
        listing = base + ["list"]
        off = {"REGCACHE_LOOKUP_INDEX": "0"}
        newest = key_at(n - 1)

        def measure(op, args, env, runs, check):
            walls = []
            for r in range(runs):
                before = log_size(a.log)
                wall, out = run_regcache(args, dict(env, HOME=a.work), os.path.join(a.work, "ws"))
                check(out)
                walls.append(wall)
                if r == 0:
                    reqs, pages = count_requests(a.log, before)
            row = [n, op, "%.3f" % statistics.median(walls), reqs, pages]
            rows.append(row)
            print(f"   entries-{n}: {op:<18} {float(row[2]):8.3f} s  {reqs:6d} requests"
                  f" ({pages} tag-list pages)", flush=True)

        def matched(out):
            if out.get("matched_key") != newest:
                die(f"entries-{n}: the lookup matched {out.get('matched_key')}, not {newest}")

        def listed(count):
            def check(out):
                if len(out) != count or out[0]["key"] != newest:
                    die(f"entries-{n}: list shows {len(out)} entries, newest "
                        f"{out[0]['key'] if out else None}")
            return check

        measure("lookup, no index", lookup, off, a.runs, matched)
        measure("list, no index", listing, off, a.runs, listed(n))
        measure("lookup, first", lookup, {}, 1, matched)
        measure("lookup", lookup, {}, a.runs, matched)
        measure("list", listing, {}, a.runs, listed(n))
        measure("save", base + ["save", "--key", f"saved-{n}", "--restore-key", "build-", "cache"],
                {}, 1, lambda out: out.get("result") == "saved" or die(f"save: {out}"))
    with open(a.out, "w") as f:
        f.write("entries\top\twall_s\trequests\ttag_pages\n")
        for r in rows:
            f.write("\t".join(map(str, r)) + "\n")


if __name__ == "__main__":
    main()
