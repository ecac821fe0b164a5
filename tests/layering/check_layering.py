#!/usr/bin/env python3
"""The layering rule of src/regcache (docs/decisions.md, "Architecture"), checked on every
#include: a file includes only headers of its own folder or of a folder below it, and only
the command line reads the environment.

    cli  >  lifecycle  >  core, ecosystems  >  format  >  store, archive  >  oci  >  util

Folders on one floor (core and ecosystems; store and archive) do not include each other.
Exits 1 naming every violation, 0 when there is none."""
import os
import re
import sys

RANK = {"util": 0, "oci": 1, "store": 2, "archive": 2, "format": 3, "core": 4, "ecosystems": 4,
        "lifecycle": 5, "cli": 6}
INCLUDE = re.compile(r'^\s*#\s*include\s+"regcache/([a-z_]+)/')
GETENV = re.compile(r"\b(std::)?(getenv|secure_getenv)\s*\(")


def check(src_root):
    problems = []
    for dirpath, _, files in os.walk(src_root):
        for name in sorted(files):
            if not name.endswith((".cpp", ".hpp")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src_root)
            folder = rel.split(os.sep)[0]
            if folder not in RANK:
                problems.append(f"{rel}: folder {folder}/ has no place in the layering (tests/layering)")
                continue
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m:
                        target = m.group(1)
                        if target not in RANK:
                            problems.append(f"{rel}:{n}: includes from unknown folder {target}/")
                        elif target != folder and RANK[target] >= RANK[folder]:
                            problems.append(f"{rel}:{n}: {folder}/ includes {target}/, which is not below it")
                    if folder != "cli" and GETENV.search(line.split("//")[0]):
                        problems.append(f"{rel}:{n}: reads the environment outside cli/ (use cli/settings)")
    return problems


def self_test():
    """The check itself must catch what it is for: an include pointing up or sideways on a
    floor, and getenv outside cli/."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        files = {"util/a.cpp": '#include "regcache/cli/context.hpp"\n',
                 "store/b.cpp": '#include "regcache/archive/tar_reader.hpp"\n',
                 "core/c.cpp": 'const char* v = std::getenv("HOME");\n',
                 "cli/d.cpp": 'const char* v = std::getenv("HOME");\n#include "regcache/util/log.hpp"\n'}
        for rel, text in files.items():
            os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        found = check(d)
    expected = ["util/a.cpp:1", "store/b.cpp:1", "core/c.cpp:1"]
    if [p.split(": ")[0] for p in found] != expected:
        print(f"self-test: expected violations at {expected}, got {found}")
        return 1
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..",
                                                              "src", "regcache")
    problems = check(os.path.normpath(root))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering violations", file=sys.stderr)
        return 1
    print("layering: every include points down, getenv only in cli/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
