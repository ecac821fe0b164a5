"""The many-entries part of docs/benchmarks.md (bench/entries.py's entries.tsv): targets and
a table. Imported by report.py; standard library only."""
import csv
import os

LOOKUP_REQUESTS_GOAL = 10  # requests beyond the tag-list pages
LOOKUP_SECONDS_GOAL = 0.3  # at 10,000 entries, on loopback


def read(path):
    if not path or not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def targets(rows):
    """Returns target rows in report.py's form."""
    out = []
    by = {(int(r["entries"]), r["op"]): r for r in rows}
    for n in sorted({int(r["entries"]) for r in rows}):
        r = by.get((n, "lookup"))
        if r is None:
            continue
        beyond = int(r["requests"]) - int(r["tag_pages"])
        out.append({"corpus": "entries-%d" % n, "target": "lookup: requests beyond the tag list",
                    "measured": str(beyond), "goal": "< %d" % LOOKUP_REQUESTS_GOAL,
                    "status": "PASS" if beyond < LOOKUP_REQUESTS_GOAL else "FAIL"})
        if n >= 10000:
            t = float(r["wall_s"])
            out.append({"corpus": "entries-%d" % n, "target": "lookup time (loopback)",
                        "measured": "%.3f s" % t, "goal": "< %.1f s" % LOOKUP_SECONDS_GOAL,
                        "status": "PASS" if t < LOOKUP_SECONDS_GOAL else "FAIL"})
    return out


def section(rows, md_table):
    """Returns the markdown lines of the section (none without rows)."""
    if not rows:
        return []
    md = ["## Repositories with many entries", "",
          "`bench/entries.py`: N entry manifests pushed straight to a fresh registry (keys `build-00000`..,",
          "each newer than the one before), then regcache looks up a key that has no entry with the",
          "restore key `build-` (`restore --lookup-only`), lists the entries (`list --json`), and saves",
          "one new entry on the base the lookup matched (as a CI job saves after its restore). *No index* runs with `REGCACHE_LOOKUP_INDEX=0` (every",
          "matching manifest is read); *first* is the first lookup with the index on, which reads them",
          "all and writes the index; the plain rows run once the index holds every entry. Wall times",
          "are the median of 3 runs (the first lookup runs once); requests are counted from the",
          "registry's access log (tag-list pages in brackets). Every lookup must match the newest entry",
          "and every listing show all of them, else the run stops.", ""]
    table = [[r["entries"], r["op"], "%.3f" % float(r["wall_s"]),
              "%s (%s)" % (r["requests"], r["tag_pages"])] for r in rows]
    md += [md_table(["entries", "operation", "wall s", "requests (tag-list pages)"], table), ""]
    return md
