#!/usr/bin/python3
"""Turns bench/out/results.tsv (written by bench/run.sh) into docs/benchmarks.md and
prints the ratios against the issue's targets on stdout. Standard library only.

  report.py [--results bench/out/results.tsv] [--meta bench/out/meta.tsv] [--out docs/benchmarks.md]
"""
import argparse
import csv
import os
import platform
import subprocess
import sys

import entries_report

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MIB = 1 << 20
GIB = 1 << 30

TOOL_LABEL = {
    "cp": "cp -a",
    "tar-gzip": "2021 workaround (tar.gz)",
    "tar-zstd": "hand pipeline (tar + zstd)",
    "regcache": "regcache",
}
OP_LABEL = {
    "save": "save",
    "restore": "restore",
    "save-cold": "save, cold (new repository)",
    "save-unchanged": "save, unchanged tree (`--base` the cold entry)",
    "save-after-restore": "save of the restored tree, unchanged (base: the restored entry)",
    "save-1pct": "save, 1% of the files changed, spread (`--base` the unchanged entry)",
    "save-1pct-clustered": "save, 1% of the files changed, clustered (`--base` the unchanged entry)",
    "save-stack": "saves each changing 1% more of the files (spread), each on the one before, up to the most deltas",
    "save-compacted": "save of the last one's tree compacted (`REGCACHE_DELTAS=0`)",
    "restore-deltas": "restore of the last one (delta layers)",
    "restore-compacted": "restore of the same tree compacted",
}


def corpus_description(name, rows, meta):
    files = int(rows[0]["files"])
    size = int(rows[0]["tree_bytes"])
    what = {
        "cargo": "`target/` of a debug `cargo build --offline` of `bench/corpus/cargo` against Debian's "
                 "`librust-*-dev` crates (serde, serde_json, regex, rand, rayon, env_logger, indexmap, "
                 "once_cell, crossbeam-channel and their dependencies)",
        "node": "`node_modules/` installed by `npm ci` from the committed `bench/corpus/node/package-lock.json` "
                "(@babel/core, @babel/preset-env, eslint, lodash, typescript, webpack, webpack-cli)",
    }.get(name)
    if what is None and name.startswith("big-"):
        what = "%s of random, incompressible bytes (`head -c /dev/urandom`)" % meta.get("big", name)
    if what is None and name.startswith("small-"):
        what = "Tiny files (8-120 bytes of text) in directories of 1000"
    return "%s: %d files, %s." % (what, files, human_bytes(size))


def human_bytes(n):
    if n is None:
        return ""
    n = float(n)
    if n >= GIB:
        return "%.2f GiB" % (n / GIB)
    if n >= MIB:
        return "%.1f MiB" % (n / MIB)
    if n >= 1024:
        return "%.1f KiB" % (n / 1024)
    return "%d B" % n


def registry_cpu(row):
    """The registry's CPU seconds during a step; blank for cp -a and for older results."""
    v = row.get("registry_cpu_s") or ""
    return "" if v == "" or row["tool"] == "cp" else fmt(float(v))


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                meta[k] = v
    return meta


def machine(out_dir):
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB RAM" % (int(line.split()[1]) / (1 << 20))
    except OSError:
        pass
    fs = "unknown filesystem"
    try:
        out = subprocess.run(["df", "--output=fstype,source", out_dir], capture_output=True, text=True,
                             check=True).stdout.split("\n")[1].split()
        fs = "%s (%s)" % (out[0], out[1])
    except (OSError, subprocess.CalledProcessError, IndexError):
        pass
    return {
        "cpus": "%d (nproc), %s" % (os.cpu_count() or 0, model),
        "memory": mem,
        "kernel": "%s %s %s" % (platform.system(), platform.release(), platform.machine()),
        "filesystem": "bench/out on %s; restore destinations on the same filesystem" % fs,
    }


class Corpus:
    def __init__(self, name, rows):
        self.name = name
        self.rows = rows
        self.by = {(r["tool"], r["op"]): r for r in rows}

    def median(self, tool, op, field="wall_s"):
        vals = sorted(float(r[field]) for r in self.rows if (r["tool"], r["op"]) == (tool, op) and r[field] != "")
        return vals[len(vals) // 2] if vals else None

    def get(self, tool, op, field="wall_s"):
        r = self.by.get((tool, op))
        if r is None or r[field] == "":
            return None
        return float(r[field])


def check(results, corpus, name, value, goal, ok, shown):
    results.append({"corpus": corpus, "target": name, "measured": shown if value is not None else "not measured",
                    "goal": goal, "status": ("PASS" if ok else "FAIL") if value is not None else "n/a"})


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def evaluate(corpora, big_name, small_names):
    res = []
    for c in corpora.values():
        if c.name.startswith("small-"):
            continue
        g = c.get
        r = ratio(g("regcache", "save-cold"), g("tar-zstd", "save"))
        check(res, c.name, "cold save / hand pipeline save", r, "<= 0.80", r is not None and r <= 0.8, "%.2fx" % (r or 0))
        r = ratio(g("tar-gzip", "save"), g("regcache", "save-cold"))
        check(res, c.name, "2021 save / cold save (speed-up)", r, ">= 10x", r is not None and r >= 10, "%.1fx" % (r or 0))
        r = ratio(g("regcache", "save-unchanged"), g("regcache", "save-cold"))
        check(res, c.name, "unchanged save / cold save (wall)", r, "<= 0.15", r is not None and r <= 0.15, "%.2fx" % (r or 0))
        up = g("regcache", "save-unchanged", "up_bytes")
        check(res, c.name, "unchanged save: blob bytes uploaded", up, "0", up == 0, human_bytes(up))
        r = ratio(g("regcache", "save-1pct", "up_bytes"), g("regcache", "save-cold", "up_bytes"))
        files = int(c.rows[0]["files"])
        if files < 100:
            res.append({"corpus": c.name, "target": "1% save bytes / cold save bytes",
                        "measured": "%.1f%%" % (100 * (r or 0)), "goal": "<= 5%",
                        "status": "n/a (%d files: 1 file is %.0f%% of them)" % (files, 100.0 / files)})
        else:
            check(res, c.name, "1% save bytes / cold save bytes", r, "<= 5%", r is not None and r <= 0.05,
                  "%.1f%%" % (100 * (r or 0)))
            check(res, c.name, "1% save bytes / cold save bytes, spread, with delta layers", r, "<= 3%",
                  r is not None and r <= 0.03, "%.1f%%" % (100 * (r or 0)))
            r = ratio(g("regcache", "save-1pct-clustered", "up_bytes"), g("regcache", "save-cold", "up_bytes"))
            if r is not None:
                res.append({"corpus": c.name, "target": "1% save bytes / cold save bytes, clustered",
                            "measured": "%.1f%%" % (100 * r), "goal": "(information)", "status": "info"})
        stack = c.by.get(("regcache", "save-stack"))
        if stack:
            deltas = int(stack["note"].split(":")[0].split("=")[1])
            r = ratio(c.median("regcache", "restore-deltas"), c.median("regcache", "restore-compacted"))
            name = "restore with the most delta layers (%d) / restore compacted (medians of 3)" % deltas
            check(res, c.name, name, r, "<= 1.15", r is not None and r <= 1.15, "%.2fx" % (r or 0))
        r = ratio(g("regcache", "restore"), g("cp", "restore"))
        check(res, c.name, "restore / cp -a", r, "<= 1.10", r is not None and r <= 1.1, "%.2fx" % (r or 0))
        r = ratio(g("regcache", "restore"), g("tar-zstd", "restore"))
        check(res, c.name, "restore / hand pipeline restore", r, "<= 0.90", r is not None and r <= 0.9, "%.2fx" % (r or 0))
        r = ratio(g("tar-gzip", "restore"), g("regcache", "restore"))
        check(res, c.name, "2021 restore / restore (speed-up)", r, ">= 3x", r is not None and r >= 3, "%.1fx" % (r or 0))
    if big_name in corpora:
        c = corpora[big_name]
        peak = max(float(r["peak_kib"]) for r in c.rows if r["tool"] == "regcache") / 1024
        size = int(c.rows[0]["tree_bytes"])
        note = "" if size >= 2 * GIB else " (on a %s cache, not 2 GiB)" % human_bytes(size)
        check(res, big_name, "regcache peak memory", peak, "< 256 MiB for a 2 GiB cache", peak < 256,
              "%.0f MiB%s" % (peak, note))
    allpeak = [float(r["peak_kib"]) / 1024 for c in corpora.values() for r in c.rows if r["tool"] == "regcache"]
    if allpeak:
        check(res, "all", "regcache peak memory, any corpus", max(allpeak), "< 256 MiB", max(allpeak) < 256,
              "%.0f MiB" % max(allpeak))
    curve = small_curve(corpora, small_names)
    if len(curve) >= 2:
        (n1, s1, r1, _), (n2, s2, r2, _) = curve[-2], curve[-1]
        for label, a, b in (("save", s1, s2), ("restore", r1, r2)):
            if a is None or b is None:
                continue
            growth = (b / n2) / (a / n1)
            check(res, "small files", "%s time per file, %d vs %d files" % (label, n2, n1), growth,
                  "linear: <= 1.25x", growth <= 1.25, "%.2fx" % growth)
    return res


def small_curve(corpora, small_names):
    out = []
    for name in small_names:
        c = corpora.get(name)
        if c:
            out.append((int(c.rows[0]["files"]), c.get("regcache", "save-cold"), c.get("regcache", "restore"),
                        c.get("cp", "restore")))
    return sorted(out)


def md_table(header, rows):
    cell = lambda x: str(x).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(x, spec="%.2f"):
    return "" if x is None else spec % x


def render(meta, rows, out_dir):
    corpora = {}
    for r in rows:
        corpora.setdefault(r["corpus"], []).append(r)
    corpora = {k: Corpus(k, v) for k, v in corpora.items()}
    small_names = [k for k in corpora if k.startswith("small-")]
    big_name = meta.get("big_corpus", "")
    targets = evaluate(corpora, big_name, small_names)
    entry_rows = entries_report.read(os.path.join(out_dir, "entries.tsv"))
    targets += entries_report.targets(entry_rows)
    m = machine(out_dir)
    quick = meta.get("mode") == "quick"

    md = ["# Benchmarks, generated by `%s`" % meta.get("command", "make bench"), ""]
    if quick:
        md += ["> **QUICK RUN**: a smoke test on small corpora. These numbers only show that the",
               "> pipeline works; they are not representative. The full run is `make bench`.", ""]
    md += ["Every number below comes from one run of bench/run.sh (see `bench/README.md`).", ""]
    md += [md_table(["", ""], [
        ["command", "`%s`" % meta.get("command", "?")],
        ["date", meta.get("date", "?")],
        ["mode", "%s (big files: %s; small-file trees: %s files)"
         % (meta.get("mode", "?"), meta.get("big", "?"), meta.get("small_sizes", "?"))],
        ["CPUs", m["cpus"]],
        ["memory", m["memory"]],
        ["kernel", m["kernel"]],
        ["filesystem", m["filesystem"]],
        ["load average", "%s at the start, %s at the end (1, 5, 15 min)"
         % (meta.get("load_start", "?"), meta.get("load_end", "?"))],
        ["regcache", meta.get("regcache", "?")],
        ["baseline tools", meta.get("tools", "?")],
        ["run time", "%s s: %s s building or reusing the corpora, %s s measuring"
         % (meta.get("elapsed_s", "?"), meta.get("corpora_s", "?"), meta.get("measure_s", "?"))],
    ]), ""]
    md += ["## Method", "",
           "- One loopback registry for everything: Debian's `docker-registry` (distribution 2.8, filesystem",
           "  storage with the in-memory blob descriptor cache as in Debian's packaged config, plain HTTP on",
           "  127.0.0.1), started fresh for the run by `tests/harness/services.py`.",
           "- Each operation runs under `/usr/bin/time`. *Wall* is elapsed time; *CPU* is user + system",
           "  time of the command and its children; *registry CPU* is what the registry process used during",
           "  the step (from /proc; it shares the same CPUs, so on 2 cores it competes with the client);",
           "  *peak* is the largest resident set of one process (for a shell pipeline, of its largest stage).",
           "- Rounds: on cargo, node and the big files, the saves of the three tools (regcache's cold save",
           "  each round into a new repository) and the restores of all four run in %s rounds, the tools in a"
           % meta.get("rounds", "1"),
           "  rotated order each round; a row is the tool's round with the median wall time, and its note",
           "  lists every round's wall time. The big files' saves run once (the 2021 save takes minutes).",
           "  The other steps run once, except where their note says otherwise.",
           "- Page cache: each tree is read once before it is measured, so every save reads from a warm cache;",
           "  `sync` runs between operations, outside the timings. Restores write into a new empty directory on",
           "  the same filesystem as the corpus. Restored trees are kept until the run ends: ext4 without a",
           "  journal skips inodes freed in the last 60 s (360 s while their inode table block is dirty) and",
           "  checks each of them for every file it creates, so a restore right after a large `rm -rf` paid",
           "  up to 10x the system time. The big files' trees and archives (2 GiB each) are deleted as soon",
           "  as they are checked, and the run then waits 8 s: on a VM with free page reporting, freed memory",
           "  goes back to the host within 2-3 s, and a step that wrote into memory freed a moment before ran",
           "  up to 10x faster than one writing into memory the host had to back again. So every step creates",
           "  its files on equal terms, in cold memory, as a job on a new runner does.",
           "- The 2021 workaround (*tar.gz*) saves with `tar -cpzf cache.tgz TREE`, `sha256sum` and one blob",
           "  upload with curl (POST an upload, one PUT with the digest), and restores with one GET to a file",
           "  and `tar -xzf`. Its `docker pull`/`docker create`/`docker cp` steps are not modelled, which only",
           "  favours it. The hand pipeline (*tar + zstd*) saves with `tar -cf - TREE | zstd -T0 -3`,",
           "  `sha256sum` and the same upload, and restores with `curl GET | zstd -d | tar -x`, streamed.",
           "- regcache: the cold save goes to a new repository; the restore goes into a new workspace; the",
           "  unchanged save uses a new key with `--base` the cold key (the cold save left file records, so",
           "  it reads no file whose stat is unchanged); the save of the restored tree runs in the restore's",
           "  workspace with its base from the restore state file, as a job's last step on a fresh runner",
           "  would (the restore left the records); each 1% save appends one byte to 1% of",
           "  the regular files and saves a new key with `--base` the unchanged entry: *spread* changes every",
           "  100th file in sorted path order (the target is judged on it: the worst case for packing),",
           "  *clustered* a run of consecutive files from the middle (closer to a rebuild of one package).",
           "  The files are put back afterwards (size and mtime).",
           "- The small-file trees measure regcache's cold save and restore, and `cp -a` for scale.",
           "- Every restore (regcache, both baselines, and cp -a except on the small-file trees) is compared",
           "  with the original tree: paths, types, permission bits, sizes, contents, symlink targets and file",
           "  mtimes (to the nanosecond for regcache and cp -a; to the second for tar, whose default format",
           "  stores whole seconds). A difference stops the run.",
           "- The machine may be shared: the load average above says how quiet it was. Each number is one",
           "  measurement (a row of rounds: its median round); on a busy machine file-creation heavy steps",
           "  (restores) vary by 2x or more.", ""]
    if meta.get("has_base") == "no":
        md += ["- **Note:** this regcache build has no `--base`; the unchanged and 1% saves ran without it and",
               "  found their base through the restore state file.", ""]

    md += ["## Targets", ""]
    md += [md_table(["corpus", "target", "measured", "goal", "status"],
                    [[t["corpus"], t["target"], t["measured"], t["goal"], "**%s**" % t["status"]
                      if t["status"] == "FAIL" else t["status"]] for t in targets]), ""]
    failed = [t for t in targets if t["status"] == "FAIL"]
    if failed:
        md += ["### Targets not met", ""]
        md += ["- %s: %s is %s (goal %s)." % (t["corpus"], t["target"], t["measured"], t["goal"]) for t in failed]
        md += [""]
    else:
        md += ["Every target that applies is met in this run.", ""]

    for name, c in corpora.items():
        if name.startswith("small-"):
            continue
        md += ["## Corpus: %s" % name, "", corpus_description(name, c.rows, meta), ""]
        table = []
        for r in c.rows:
            table.append([TOOL_LABEL.get(r["tool"], r["tool"]), OP_LABEL.get(r["op"], r["op"]),
                          fmt(float(r["wall_s"])), fmt(float(r["cpu_s"])), registry_cpu(r),
                          fmt(float(r["peak_kib"]) / 1024, "%.0f"),
                          human_bytes(r["up_bytes"] or None), human_bytes(r["down_bytes"] or None), r["note"]])
        md += [md_table(["tool", "operation", "wall s", "CPU s", "registry CPU s", "peak MiB", "uploaded",
                         "downloaded", "note"],
                        table), ""]

    curve = small_curve(corpora, small_names)
    if curve:
        md += ["## Small files: time against the number of files", "",
               corpus_description(small_names[0], corpora[small_names[0]].rows, meta).split(":")[0] + ".", ""]
        md += [md_table(["files", "regcache save s", "regcache restore s", "cp -a s", "save s per 100k files",
                         "restore s per 100k files", "regcache peak MiB"],
                        [[n, fmt(s), fmt(r), fmt(cp), fmt(s and s / n * 1e5, "%.3f"), fmt(r and r / n * 1e5, "%.3f"),
                          fmt(max(float(x["peak_kib"]) for x in corpora["small-%d" % n].rows
                                  if x["tool"] == "regcache") / 1024, "%.0f")]
                         for n, s, r, cp in curve]), ""]
    md += entries_report.section(entry_rows, md_table)
    return "\n".join(md), targets


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=os.path.join(HERE, "out", "results.tsv"))
    ap.add_argument("--meta", default=os.path.join(HERE, "out", "meta.tsv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    args = ap.parse_args()
    rows = read_tsv(args.results)
    meta = read_meta(args.meta)
    text, targets = render(meta, rows, os.path.dirname(os.path.abspath(args.results)))
    # Hand-written: what bounds the unmet targets of the full run docs/benchmarks.md shows
    # (not of a quick run, nor of make bench-static's report).
    analysis = os.path.join(HERE, "analysis.md")
    if os.path.exists(analysis) and os.path.basename(args.out) == "benchmarks.md":
        with open(analysis) as f:
            text += "\n" + f.read()
    with open(args.out, "w") as f:
        f.write(text)
    print()
    print("Ratios against the targets (%s run):" % meta.get("mode", "?"))
    w = max(len(t["target"]) for t in targets) if targets else 10
    for t in targets:
        print("  %-16s %-*s %-28s goal %-28s %s" % (t["corpus"], w, t["target"], t["measured"], t["goal"], t["status"]))
    n_fail = sum(t["status"] == "FAIL" for t in targets)
    print("%d of %d targets not met" % (n_fail, len(targets)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
