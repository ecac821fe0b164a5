#!/usr/bin/python3
"""Tree helpers for bench/run.sh (stdlib only).

  tree.py gen-small DIR N         N tiny files (8..120 bytes) in subdirectories of 1000 files
  tree.py warm TREE               read every file once (page cache warm-up, not timed)
  tree.py stats TREE              print "FILES BYTES" (regular files, their total size)
  tree.py mutate TREE PCT UNDO [spread|spread+J|clustered]
                                  append one byte to PCT % of the regular files, the same
                                  files every run: spread = every (100/PCT)-th file in sorted
                                  path order (spread+J: each one J files further on, so that
                                  J = 1, 2, ... change other files); clustered = one run of
                                  consecutive files in that order, from the middle. UNDO
                                  records their old size and times. Prints "CHANGED TOTAL
                                  CHANGED_BYTES".
  tree.py unmutate UNDO           truncate those files back and reset their times
  tree.py verify ORIG COPY --mtime ns|s
                                  compare two trees: the same paths, types, permission bits,
                                  sizes, contents, symlink targets, and file mtimes (to the
                                  nanosecond, or to the second for tar's v7/gnu headers);
                                  exits 1 and lists the first differences when they differ.
                                  Directory and symlink mtimes are only reported.
"""
import json
import os
import re
import stat
import sys

CHUNK = 1 << 20


def walk(root):
    """Yields (relative path, lstat) for everything under root, root itself excluded."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            yield os.path.relpath(path, root), os.lstat(path)


def regular_files(root):
    return sorted(rel for rel, st in walk(root) if stat.S_ISREG(st.st_mode))


def gen_small(root, n):
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        d = os.path.join(root, "d%04d" % (i // 1000))
        if i % 1000 == 0:
            os.makedirs(d, exist_ok=True)
        size = 8 + (i * 2654435761) % 113
        line = ("file %d of %d\n" % (i, n)).encode()
        data = (line * (size // len(line) + 1))[:size]
        with open(os.path.join(d, "f%07d.txt" % i), "wb") as f:
            f.write(data)


def warm(root):
    for rel, st in walk(root):
        if stat.S_ISREG(st.st_mode):
            with open(os.path.join(root, rel), "rb") as f:
                while f.read(CHUNK):
                    pass


def stats(root):
    files = size = 0
    for _, st in walk(root):
        if stat.S_ISREG(st.st_mode):
            files += 1
            size += st.st_size
    print(files, size)


def mutate(root, pct, undo_path, how):
    files = regular_files(root)
    if how.startswith("spread"):
        step = max(1, round(100 / pct))
        shift = int(how[len("spread+"):]) if how.startswith("spread+") else 0
        chosen = files[(step // 2 + shift) % step::step] or files[:1]
    else:
        n = max(1, round(len(files) * pct / 100))
        start = min(len(files) // 2, len(files) - n)
        chosen = files[start:start + n]
    undo = []
    for rel in chosen:
        path = os.path.join(root, rel)
        st = os.lstat(path)
        undo.append([path, st.st_size, st.st_atime_ns, st.st_mtime_ns])
        with open(path, "ab") as f:
            f.write(b"\n")
    with open(undo_path, "w") as f:
        json.dump(undo, f)
    changed = sum(u[1] for u in undo)
    print(len(chosen), len(files), changed)


def unmutate(undo_path):
    with open(undo_path) as f:
        undo = json.load(f)
    for path, size, atime, mtime in undo:
        os.truncate(path, size)
        os.utime(path, ns=(atime, mtime))
    os.unlink(undo_path)


def same_content(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(CHUNK), fb.read(CHUNK)
            if x != y:
                return False
            if not x:
                return True


def kind(mode):
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def verify(orig, copy, mtime):
    errors, notes = [], {"dir mtime": 0, "symlink mtime": 0}
    a = dict(walk(orig))
    b = dict(walk(copy))
    for rel in sorted(set(a) - set(b)):
        errors.append("missing: " + rel)
    for rel in sorted(set(b) - set(a)):
        errors.append("extra: " + rel)
    for rel in sorted(set(a) & set(b)):
        sa, sb = a[rel], b[rel]
        ka, kb = kind(sa.st_mode), kind(sb.st_mode)
        if ka != kb:
            errors.append("type %s != %s: %s" % (ka, kb, rel))
            continue
        if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode) and ka != "symlink":
            errors.append("mode %o != %o: %s" % (stat.S_IMODE(sa.st_mode), stat.S_IMODE(sb.st_mode), rel))
        ma, mb = sa.st_mtime_ns, sb.st_mtime_ns
        if mtime == "s":
            ma, mb = ma // 10**9, mb // 10**9
        if ka == "file":
            if sa.st_size != sb.st_size:
                errors.append("size %d != %d: %s" % (sa.st_size, sb.st_size, rel))
            elif not same_content(os.path.join(orig, rel), os.path.join(copy, rel)):
                errors.append("content differs: " + rel)
            if ma != mb:
                errors.append("mtime %d != %d: %s" % (sa.st_mtime_ns, sb.st_mtime_ns, rel))
        elif ka == "symlink":
            if os.readlink(os.path.join(orig, rel)) != os.readlink(os.path.join(copy, rel)):
                errors.append("symlink target differs: " + rel)
            if ma != mb:
                notes["symlink mtime"] += 1
        elif ka == "dir" and ma != mb:
            notes["dir mtime"] += 1
        elif ka == "other":
            errors.append("unexpected file type: " + rel)
    extra = ", ".join("%d %s differ" % (v, k) for k, v in notes.items() if v)
    if errors:
        print("verify: %s and %s DIFFER (%d differences)" % (orig, copy, len(errors)), file=sys.stderr)
        for e in errors[:20]:
            print("  " + e, file=sys.stderr)
        sys.exit(1)
    print("identical (%d entries, mtime to the %s)%s" % (len(a), "nanosecond" if mtime == "ns" else "second",
                                                         "; note: " + extra if extra else ""))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "gen-small" and len(args) == 2:
        gen_small(args[0], int(args[1]))
    elif cmd == "warm" and len(args) == 1:
        warm(args[0])
    elif cmd == "stats" and len(args) == 1:
        stats(args[0])
    elif cmd == "mutate" and len(args) in (3, 4) and re.fullmatch(r"spread(\+\d+)?|clustered", (args[3:] or ["spread"])[0]):
        mutate(args[0], float(args[1]), args[2], (args[3:] or ["spread"])[0])
    elif cmd == "unmutate" and len(args) == 1:
        unmutate(args[0])
    elif cmd == "verify" and len(args) == 4 and args[2] == "--mtime" and args[3] in ("ns", "s"):
        verify(args[0], args[1], args[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
