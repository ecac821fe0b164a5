#!/usr/bin/env python3
"""Names in anonymous namespaces are unique across the sources of one target
(docs/decisions.md, "The build"). The build compiles its sources in batches (CMake's unity
build): two files that both define `bad()` in an anonymous namespace break the batch that
holds both, and two overloads of one name could silently swap, a call in one file picking
the other file's function. Each argument is a folder whose .cpp files are batched together
(src/regcache, tests/unit); a name defined at the top of an anonymous namespace, or
static at namespace scope, in two of its files is reported. Exits 1 naming every such name, 0 when there is none."""
import os
import re
import sys

OPEN = re.compile(r"^namespace\s*\{")
CLOSE = re.compile(r"^\}\s*//\s*namespace\s*$")
TYPE = re.compile(r"^(?:struct|class|union|enum(?:\s+class)?)\s+(\w+)")
SKIP = ("}", "#", "//", "template", "using ", "namespace", "public:", "private:", "protected:", "static_assert")
IDENT = re.compile(r"(\w+)\s*$")
MACRO = re.compile(r"^[A-Z][A-Z0-9_]*\(")
TEMPLATE_ARGS = re.compile(r"<[^<>]*>")


def declared_name(line):
    """The name a top-level line of an anonymous namespace defines, if it defines one."""
    if not line or line[0].isspace() or line.startswith(SKIP):
        return None
    if MACRO.match(line):  # TEST(...), TEST_F(...): a macro's expansion, not a name
        return None
    m = TYPE.match(line)
    if m:
        return m.group(1)
    while TEMPLATE_ARGS.search(line):  # std::function<bool(int)> f(: the name is f
        line = TEMPLATE_ARGS.sub("", line)
    cut = min((i for i in (line.find("("), line.find(" ="), line.find("{"), line.find(";")) if i >= 0),
              default=-1)
    if cut <= 0:
        return None
    m = IDENT.search(line[:cut])
    return m.group(1) if m and m.group(1) != "operator" else None


def anonymous_names(path):
    names = {}
    depth = 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if OPEN.match(line):
                depth += 1
            elif depth and CLOSE.match(line):
                depth -= 1
            elif depth or line.startswith("static "):  # static: internal linkage too
                name = declared_name(line.rstrip("\n"))
                if name:
                    names.setdefault(name, n)
    return names


def check(folder):
    seen = {}
    problems = []
    for dirpath, _, files in os.walk(folder):
        for name in sorted(files):
            if not name.endswith(".cpp"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, folder)
            for ident, line in anonymous_names(path).items():
                if ident in seen:
                    problems.append(f"{rel}:{line}: {ident} is also defined in an anonymous namespace "
                                    f"of {seen[ident]}")
                else:
                    seen[ident] = f"{rel}:{line}"
    return problems


def self_test():
    """The check must catch a function (also one returning a template type, and a static
    one outside the anonymous namespace), a type and a constant defined in two files, and
    leave alone other names outside anonymous namespaces, macros and overloads within one
    file."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        files = {
            "a.cpp": "namespace x {\nnamespace {\n\nError bad(std::string_view why) {\n  return {};\n}\n"
                     "struct Reader {\n};\nconstexpr size_t kBlock = 512;\nint twice(int);\nint twice(long);\n"
                     "TEST(A, B) {\n}\nstd::function<bool(long)> holding(long n);\n\n}  // namespace\n\n"
                     "int shared(int v) { return v; }\nstatic int helper(int v) { return v; }\n"
                     "}  // namespace x\n",
            "b.cpp": "namespace x {\nnamespace {\n\nError bad(const std::string& why,\n          int n) {\n"
                     "  return {};\n}\nclass Reader {};\nconstexpr uint64_t kBlock{512};\nTEST(A, C) {\n}\n"
                     "std::function<bool(int)> holding(int n);\n\n}  // namespace\n\n"
                     "int shared(long v) { return v; }\nstatic std::vector<int> helper(long v) {\n  return {};\n}\n"
                     "}  // namespace x\n",
        }
        for rel, text in files.items():
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        found = sorted(p.split(": ")[0] + " " + p.split(": ")[1].split()[0] for p in check(d))
    expected = ["b.cpp:12 holding", "b.cpp:17 helper", "b.cpp:4 bad", "b.cpp:8 Reader",
                "b.cpp:9 kBlock"]
    if found != expected:
        print(f"self-test: expected {expected}, got {found}")
        return 1
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) < 2:
        print("usage: check_unity_names.py FOLDER... | --self-test", file=sys.stderr)
        return 2
    problems = []
    for folder in sys.argv[1:]:
        problems += [f"{folder}/{p}" for p in check(os.path.normpath(folder))]
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} names defined in more than one anonymous namespace", file=sys.stderr)
        return 1
    print("unity names: every name in an anonymous namespace is defined in one file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
