"""Every command example in README.md and docs/ (fenced ```sh blocks) and in the help of
every command runs, so the documentation cannot drift from what the binary does.

Each block runs in a sandbox of its own, its lines in order, through /bin/sh with the
built regcache first on PATH: a workspace and a home holding what the examples name
(target/, Cargo.lock, ~/.cargo/registry, build/, ~/.cache/tool, …), the example
registries (ghcr.io/acme/app/cache, registry.example.com/team/app/cache) replaced by a
repository of the loopback registry, /home/runner by the sandbox's home, and the 2021-style
image the migration examples read pushed there first. Lines that run other tools (cargo,
make, go) are left out: only lines starting with `regcache`, `export` or a variable
assignment run. ```text blocks are synopses, not examples."""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest
import uuid

from common import BIN, SOURCE_DIR, clean_env, services, wait_for_binary

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from legacy_image import build_legacy_archive, push_legacy_image  # noqa: E402

EXAMPLE_REGISTRIES = ("ghcr.io/acme/app/cache", "registry.example.com/team/app/cache")
NOT_EXAMPLES = ("completion", "man")  # help examples that source or page their output


def fenced_sh_blocks(path):
    """[(line number, [command lines])] of the ```sh blocks of a Markdown file."""
    blocks, current, start = [], None, 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.startswith("```"):
                if current is None:
                    current, start = ([] if line.strip() == "```sh" else None), n
                    if current is None:
                        current = False  # another kind of block: skip it
                else:
                    if current:
                        blocks.append((start, current))
                    current = None
                continue
            if current is not None and current is not False:
                current.append(line.rstrip("\n"))
    return blocks


def commands(lines):
    """Joins backslash continuations; keeps the lines this test runs."""
    out, pending = [], ""
    for line in lines:
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if re.match(r"^(regcache\b|export\b|[A-Z_][A-Z0-9_]*=)", full):
            out.append(full)
    return out


def help_examples():
    """[(command, [example lines])] from `regcache --help` and each command's help."""
    wait_for_binary()
    out = []
    names = [""] + ["save", "restore", "list", "delete", "prune", "import", "key", "hash-files", "presets",
                    "keygen"]
    for name in names:
        text = subprocess.run([BIN] + ([name] if name else []) + ["--help"], capture_output=True, text=True).stdout
        lines = [l.strip() for l in text.split("Examples:", 1)[-1].splitlines() if l.startswith("  regcache")]
        out.append((name or "regcache", [l.split("  #")[0].strip() for l in lines]))
    return out


class DocExamplesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.registry = services()["REG_OPEN"]
        cls.bin_dir = tempfile.mkdtemp(prefix="regcache-doc-bin-")
        os.symlink(os.path.abspath(BIN), os.path.join(cls.bin_dir, "regcache"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.bin_dir, ignore_errors=True)

    def sandbox(self):
        root = tempfile.mkdtemp(prefix="regcache-doc-")
        self.addCleanup(shutil.rmtree, root, True)
        ws, home = os.path.join(root, "ws"), os.path.join(root, "home")
        files = {
            f"{ws}/Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n',
            f"{ws}/Cargo.lock": "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n",
            f"{ws}/src/main.rs": "fn main() {}\n",
            f"{ws}/target/release/app": "binary\n",
            f"{ws}/target/debug/app": "binary\n",
            f"{ws}/build/out.o": "object\n",
            f"{ws}/out/x.txt": "x\n",
            f"{ws}/lockfile": "v1\n",
            f"{ws}/go.sum": "example.com/m v1.0.0 h1:x\n",
            f"{ws}/package-lock.json": '{"lockfileVersion": 3}\n',
            f"{home}/.cargo/registry/cache/crate.crate": "crate\n",
            f"{home}/.cache/tool/data": "tool\n",
            f"{home}/go/pkg/mod/cache/x": "mod\n",
            f"{home}/.npm/_cacache/index": "npm\n",
        }
        for path, data in files.items():
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(data)
        return root, ws, home

    def localize(self, line, repo, home):
        for example in EXAMPLE_REGISTRIES:
            line = line.replace(example, f"{self.registry}/{repo}")
        return line.replace("/home/runner", home)

    def push_legacy_image(self, repo, ws, home, root):
        """The image the migration examples read: cache.tgz of ~/.cargo/registry and target/."""
        work = os.path.join(root, "legacy")
        archive = build_legacy_archive([os.path.join(home, ".cargo", "registry"), os.path.join(ws, "target")], work)
        push_legacy_image(archive, f"{self.registry}/{repo}:v1")

    def run_block(self, where, lines):
        root, ws, home = self.sandbox()
        repo = "docs/" + uuid.uuid4().hex
        if any(":v1" in l for l in lines):
            self.push_legacy_image(repo, ws, home, root)
        extra = {"PATH": self.bin_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin")}
        # rustup finds its toolchains under the real home (the rust preset's key runs rustc).
        rustup = os.environ.get("RUSTUP_HOME") or os.path.expanduser("~/.rustup")
        if os.path.isdir(rustup):
            extra["RUSTUP_HOME"] = rustup
        env = clean_env(home, extra, os.path.join(root, "tmp"))
        os.makedirs(env["TMPDIR"])
        script = "set -e\n"
        for line in lines:
            line = self.localize(line, repo, home)
            # Each regcache line must succeed (a miss may exit 3 with --fail-on-miss, which is
            # what that flag is for); `|| true` in an example is part of it.
            run = f"{line} || [ $? -eq 3 ]" if "--fail-on-miss" in line else line
            script += f"echo {shlex.quote('+ ' + line)} >&2\n{run}\n"
        p = subprocess.run(["/bin/sh", "-c", script], cwd=ws, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, f"{where}: an example failed:\n{p.stderr[-3000:]}")

    def test_markdown_examples(self):
        files = [os.path.join(SOURCE_DIR, "README.md")] + sorted(glob.glob(os.path.join(SOURCE_DIR, "docs", "*.md")))
        ran = 0
        for path in files:
            for start, block in fenced_sh_blocks(path):
                lines = commands(block)
                if not any(l.startswith("regcache") for l in lines):
                    continue
                where = f"{os.path.relpath(path, SOURCE_DIR)}:{start}"
                with self.subTest(block=where):
                    self.run_block(where, lines)
                    ran += 1
        self.assertGreaterEqual(ran, 4, "no examples found: did the docs change their fences?")

    def test_help_examples(self):
        ran = 0
        for command, lines in help_examples():
            if command in NOT_EXAMPLES:
                continue
            with self.subTest(command=command):
                self.assertTrue(lines, f"`regcache {command} --help` shows no example")
                # Examples of one command may depend on nothing but the sandbox: each alone.
                for line in lines:
                    self.run_block(f"{command} --help: {line}", [line])
                    ran += 1
        self.assertGreaterEqual(ran, 10)


if __name__ == "__main__":
    unittest.main()
