"""What regcache reports besides its result: the job summary (a Markdown table appended
to $GITHUB_STEP_SUMMARY or --summary FILE), progress on stderr (a bar on a terminal,
lines otherwise, nothing with -q), the explanations of -v, and the help, completion
scripts and man page generated from the parser. Local OCI layouts, except for progress:
the open registry behind the fault proxy, which holds a transfer open while progress shows."""
import os
import pty
import re
import shutil
import subprocess
import tempfile
import sys
import threading
import unittest
import uuid

from common import (BIN, MIB, RegcacheTestCase, clean_env, make_small_tree, parse_json, run, services,
                    wait_for_binary)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from fault_proxy import FaultProxy  # noqa: E402

SAVE_HEADER = "| key | result | matched key | files | size | uploaded | reused layers | time | throughput |"
RESTORE_HEADER = "| key | result | matched key | files | size | downloaded | reused layers | time | throughput |"
ALIGN = "|---|---|---|---:|---:|---:|---:|---:|---:|"
EMPTY_CELL = "\u2013"  # an en dash marks an empty cell
SIZE = r"\d+(?:\.\d)? (?:B|KiB|MiB|GiB|TiB)"

# Commands the brief requires; prune and import are checked too when the binary has them.
REQUIRED_COMMANDS = ("save", "restore", "list", "delete", "key", "hash-files", "presets", "completion", "man")


def split_row(line):
    """The cells of a Markdown table row; '\\|' is part of a cell, not a separator."""
    assert line.startswith("|") and line.endswith("|"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def parse_summary(text):
    """[(command, header, align, [rows])] for every '### regcache ...' section."""
    sections = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.fullmatch(r"### regcache (\w+)", lines[i])
        if not m:
            i += 1
            continue
        assert lines[i + 1] == "", f"no blank line after the heading: {lines[i:i + 3]}"
        header, align = lines[i + 2], lines[i + 3]
        rows = []
        j = i + 4
        while j < len(lines) and lines[j].startswith("|"):
            rows.append(lines[j])
            j += 1
        sections.append((m.group(1), header, align, rows))
        i = j
    return sections


def commands_from_help(text):
    """The command names listed under 'Subcommands:' in `regcache --help`."""
    out = []
    in_section = False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            in_section = True
            continue
        if in_section:
            if not line.strip():
                break
            m = re.match(r"  (\S+)", line)
            if m:
                out.append(m.group(1))
    return out


def long_options_from_help(text):
    """Every --long option listed under 'Options:' in a --help text."""
    opts = []
    in_section = False
    for line in text.splitlines():
        if line.startswith("Options:"):
            in_section = True
            continue
        if in_section:
            if line and not line.startswith(" "):
                break
            m = re.match(r"\s+(?:-\w,)?(--[\w-]+)", line)
            if m:
                opts.append(m.group(1))
    return opts


# ---------------------------------------------------------------------------------------
# Job summary


class SummaryTest(RegcacheTestCase):

    def setUp(self):
        super().setUp()
        self.store_ref = "oci:" + os.path.join(self.tmp, "store")
        make_small_tree(os.path.join(self.ws, "d"))

    def rc(self, *args, env=None, check=True):
        return self.regcache("--store", self.store_ref, *args, env=env, check=check)

    def check_row(self, row, command, j, matched):
        cells = split_row(row)
        self.assertEqual(len(cells), 9, row)
        key, result, matched_key, files, size, moved, reused, secs, rate = cells
        self.assertEqual(key, f"`{j['key'].replace('|', chr(92) + '|')}`", row)
        self.assertEqual(result, j["result"], row)
        self.assertEqual(matched_key, matched, row)
        self.assertEqual(files, str(j["files"]), row)
        self.assertRegex(size, "^" + SIZE + "$")
        self.assertRegex(moved, "^" + SIZE + "$")
        if command == "save":
            self.assertEqual(reused, f"{j['reused_layers']} of {j['layers']}", row)
        else:
            self.assertEqual(reused, EMPTY_CELL, row)
        self.assertRegex(secs, r"^\d+\.\d\d s$")
        self.assertRegex(rate, "^" + SIZE + "/s$")

    def test_save_and_restore_append_one_table_each(self):
        gh = os.path.join(self.tmp, "step-summary.md")
        with open(gh, "w", encoding="utf-8") as f:
            f.write("# earlier step\n\n")
        env = {"GITHUB_STEP_SUMMARY": gh}
        runs = []
        _, out, _ = self.rc("--json", "save", "--key", "deps-1", "d", env=env)
        runs.append(("save", parse_json(out), EMPTY_CELL))
        _, out, _ = self.rc("--json", "save", "--key", "deps-1", "d", env=env)
        runs.append(("save", parse_json(out), EMPTY_CELL))
        shutil.rmtree(os.path.join(self.ws, "d"))
        _, out, _ = self.rc("--json", "restore", "--key", "deps-1", env=env)
        runs.append(("restore", parse_json(out), "`deps-1`"))
        _, out, _ = self.rc("--json", "restore", "--key", "deps-2", "--restore-key", "deps-", env=env)
        runs.append(("restore", parse_json(out), "`deps-1`"))
        _, out, _ = self.rc("--json", "restore", "--key", "other", env=env)
        runs.append(("restore", parse_json(out), EMPTY_CELL))
        self.assertEqual([r[1]["result"] for r in runs], ["saved", "exists", "hit", "partial", "miss"])

        with open(gh, encoding="utf-8") as f:
            text = f.read()
        self.assertTrue(text.startswith("# earlier step\n\n"), "the summary file was overwritten")
        sections = parse_summary(text)
        self.assertEqual([s[0] for s in sections], [r[0] for r in runs], text)
        for (command, j, matched), (_, header, align, rows) in zip(runs, sections):
            with self.subTest(command=command, result=j["result"]):
                self.assertEqual(header, SAVE_HEADER if command == "save" else RESTORE_HEADER)
                self.assertEqual(align, ALIGN)
                self.assertEqual(len(rows), 1, rows)
                self.check_row(rows[0], command, j, matched)

    def test_summary_option_wins_over_github_step_summary(self):
        gh = os.path.join(self.tmp, "gh.md")
        mine = os.path.join(self.tmp, "mine.md")
        env = {"GITHUB_STEP_SUMMARY": gh}
        _, out, _ = self.rc("--summary", mine, "--json", "save", "--key", "k", "d", env=env)
        saved = parse_json(out)
        _, out, _ = self.rc("--summary", mine, "--json", "restore", "--key", "k", env=env)
        restored = parse_json(out)
        self.assertFalse(os.path.exists(gh), "GITHUB_STEP_SUMMARY was written despite --summary")
        with open(mine, encoding="utf-8") as f:
            sections = parse_summary(f.read())
        self.assertEqual([s[0] for s in sections], ["save", "restore"])
        self.check_row(sections[0][3][0], "save", saved, EMPTY_CELL)
        self.check_row(sections[1][3][0], "restore", restored, "`k`")
        # without either, nothing is written anywhere
        self.rc("--json", "restore", "--key", "k")
        self.assertFalse(os.path.exists(gh))

    def test_pipe_in_key_does_not_break_the_table(self):
        mine = os.path.join(self.tmp, "s.md")
        key = "a|b||c"
        _, out, _ = self.rc("--summary", mine, "--json", "save", "--key", key, "d")
        saved = parse_json(out)
        _, out, _ = self.rc("--summary", mine, "--json", "restore", "--key", "zzz", "--restore-key", "a|b")
        restored = parse_json(out)
        self.assertEqual(restored["result"], "partial")
        with open(mine, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("`a\\|b\\|\\|c`", text)
        sections = parse_summary(text)
        self.check_row(sections[0][3][0], "save", saved, EMPTY_CELL)
        self.check_row(sections[1][3][0], "restore", restored, "`a\\|b\\|\\|c`")

    def test_unwritable_summary_is_a_warning(self):
        bad_paths = {
            "missing directory": os.path.join(self.tmp, "no-such-dir", "summary.md"),
            "a directory": self.tmp,
        }
        for i, (what, path) in enumerate(bad_paths.items()):
            with self.subTest(what=what):
                rc, out, err = self.rc("--summary", path, "--json", "save", "--key", f"w{i}", "d", check=None)
                self.assertEqual(rc, 0, err)
                self.assertEqual(parse_json(out)["result"], "saved")
                self.assertRegex(err, r"regcache: warning: .*summary.*" + re.escape(path))
                rc, out, err = self.rc("--json", "restore", "--key", f"w{i}",
                                       env={"GITHUB_STEP_SUMMARY": path}, check=None)
                self.assertEqual(rc, 0, err)
                self.assertEqual(parse_json(out)["result"], "hit")
                self.assertRegex(err, r"regcache: warning: .*summary.*" + re.escape(path))


# ---------------------------------------------------------------------------------------
# Progress

LINE = re.compile(r"^regcache: (saving|restoring) " + SIZE + r"(?: / " + SIZE + r" \((?P<pct>\d+)%\))?, " + SIZE +
                  r"/s(, ETA \d+s)?$")


class ProgressTest(RegcacheTestCase):
    """48 MiB of random data, saved to and restored from the open registry through the
    fault proxy, which holds one transfer open for a second (a `stall` rule): progress
    is then shown while the operation runs however fast the machine is, and the tests
    never depend on how long a save or restore takes by itself."""

    HOLD = 1.0  # seconds the proxy holds a transfer; the line interval is 0.05 s

    @classmethod
    def setUpClass(cls):
        cls.data_ws = tempfile.mkdtemp(prefix="regcache-progress-")
        big = os.path.join(cls.data_ws, "big")
        os.makedirs(big)
        for i in range(6):
            with open(os.path.join(big, f"r{i}.bin"), "wb") as f:
                f.write(os.urandom(8 * MIB))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.data_ws, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.proxy = FaultProxy(services()["REG_OPEN"]).start()
        self.addCleanup(self.proxy.stop)
        self.store_ref = f"{self.proxy.address}/progress/{uuid.uuid4().hex}"

    def hold_upload(self):
        """The first blob upload's answer waits HOLD seconds: the save is still running."""
        self.proxy.set_rules([{"method": "PUT", "path": r"/blobs/uploads/", "nth": 1, "action": "stall",
                               "seconds": self.HOLD}])

    def hold_download(self):
        """Each layer download stops for HOLD seconds after 1 MiB of its body (the small
        config blob is sent whole before its pause, so it is not held)."""
        self.proxy.set_rules([{"method": "GET", "path": r"/blobs/sha256:", "first_n": 100, "action": "stall",
                               "where": "body", "after": MIB, "seconds": self.HOLD}])

    def save_big(self, *global_args, level="3", env=None, hold=True):
        if hold:
            self.hold_upload()
        return self.regcache("--store", self.store_ref, *global_args, "--json", "save", "--key", "big",
                             "--level", level, "big", cwd=self.data_ws, env=env, check=True)

    def restore_big(self, *global_args, env=None, hold=True):
        if hold:
            self.hold_download()
        rc, out, err = self.regcache("--store", self.store_ref, *global_args, "--json", "restore", "--key", "big",
                                     env=env, check=True)
        self.assertEqual(os.path.getsize(os.path.join(self.ws, "big", "r5.bin")), 8 * MIB)
        return rc, out, err

    def progress_lines(self, err, verb):
        lines = [l for l in err.splitlines() if l.startswith(f"regcache: {verb} ")]
        for l in lines:
            self.assertRegex(l, LINE)
        percents = [int(LINE.match(l).group("pct")) for l in lines if LINE.match(l).group("pct") is not None]
        self.assertTrue(percents, f"no '{verb}' line with a percentage on stderr:\n{err}")
        self.assertEqual(percents, sorted(percents), "progress went backwards")
        self.assertLessEqual(percents[-1], 100)
        return lines

    def test_lines_during_save_and_restore(self):
        _, out, err = self.save_big(env={"REGCACHE_PROGRESS": "lines", "REGCACHE_PROGRESS_INTERVAL": "0.05"})
        saved = parse_json(out)
        self.assertEqual(saved["result"], "saved")
        self.assertGreaterEqual(len(self.progress_lines(err, "saving")), 2, err)
        self.assertNotIn("\r", err)
        self.assertNotIn("\033", err)
        # the default when stderr is not a terminal: lines too
        _, out, err = self.restore_big(env={"REGCACHE_PROGRESS_INTERVAL": "0.05"})
        self.assertEqual(parse_json(out)["result"], "hit")
        lines = self.progress_lines(err, "restoring")
        self.assertGreaterEqual(len(lines), 2, err)
        self.assertNotIn("\033", err)

    def test_quiet_and_off_print_no_progress(self):
        env = {"REGCACHE_PROGRESS": "lines", "REGCACHE_PROGRESS_INTERVAL": "0.05"}
        _, out, err = self.save_big("-q", env=env)
        self.assertEqual(parse_json(out)["result"], "saved")
        self.assertEqual(err, "", "-q must leave stderr empty")
        _, out, err = self.restore_big("-q", env=env)
        self.assertEqual(parse_json(out)["result"], "hit")
        self.assertEqual(err, "", "-q must leave stderr empty")
        # REGCACHE_PROGRESS=off: only the result line
        shutil.rmtree(os.path.join(self.ws, "big"))
        _, out, err = self.restore_big(env={"REGCACHE_PROGRESS": "off", "REGCACHE_PROGRESS_INTERVAL": "0.05"})
        self.assertEqual(parse_json(out)["result"], "hit")
        self.assertNotIn("restoring", err)
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_bar_on_a_terminal(self):
        master, slave = pty.openpty()
        chunks = []

        def reader():
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO once the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)

        env = clean_env(self.home, {"TERM": "xterm"}, self.tmpdir)
        self.assertNotIn("REGCACHE_PROGRESS", env)
        self.hold_upload()
        wait_for_binary()
        try:
            p = subprocess.Popen([BIN, "--store", self.store_ref, "--json", "save", "--key", "big", "big"],
                                 cwd=self.data_ws, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=slave)
        finally:
            os.close(slave)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise
        finally:
            t.join(10)
            os.close(master)
        err = b"".join(chunks).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(parse_json(out.decode())["result"], "saved")
        bars = re.findall(r"\r\033\[Ksaving \[([#.]{24})\] (" + SIZE + r" / " + SIZE + r" \(\d+%\)[^\r\n]*)", err)
        self.assertTrue(bars, f"no progress bar on the terminal: {err!r}")
        for bar, _text in bars:
            self.assertRegex(bar, r"^#*\.*$")
        self.assertNotIn("regcache: saving", err, "lines instead of a bar on a terminal")
        # the bar is erased at the end: after the last erase only the result line follows
        last = err.rindex("\r\033[K")
        self.assertNotIn("[", err[last + 4:], f"the bar was left on the terminal: {err[last:]!r}")
        self.assertTrue(err[last + 4:].startswith("Saved 6 files"), repr(err[last:]))


# ---------------------------------------------------------------------------------------
# -v


class VerboseTest(RegcacheTestCase):

    def setUp(self):
        super().setUp()
        self.store_ref = "oci:" + os.path.join(self.tmp, "store")

    def rc(self, *args, env=None):
        return self.regcache("--store", self.store_ref, *args, env=env, check=True)

    def test_restore_explains_which_key_matched(self):
        make_small_tree(os.path.join(self.ws, "d"))
        # the older entry has the later name: "newest" is by creation, not by name
        self.rc("save", "--key", "build-b", "d", env={"REGCACHE_NOW": "2024-01-01T00:00:00Z"})
        self.rc("save", "--key", "build-a", "d", env={"REGCACHE_NOW": "2024-01-02T00:00:00Z"})
        _, out, err = self.rc("-v", "--json", "restore", "--key", "build-b")
        self.assertEqual(parse_json(out)["result"], "hit")
        self.assertIn("regcache: exact key matched: build-b\n", err)
        _, out, err = self.rc("-v", "--json", "restore", "--key", "build-c", "--restore-key", "nothing-",
                              "--restore-key", "build-")
        j = parse_json(out)
        self.assertEqual((j["result"], j["matched_key"]), ("partial", "build-a"))
        self.assertIn("regcache: restore key 'build-' matched build-a (newest of its prefix)\n", err)
        self.assertNotIn("exact key matched", err)
        # without -v: no explanations
        _, _, err = self.rc("restore", "--key", "build-c", "--restore-key", "build-")
        self.assertNotIn("matched build-a (newest", err)
        self.assertNotIn("regcache: ", err)

    def test_save_after_restore_names_the_base_and_reuse(self):
        tree = os.path.join(self.ws, "t")
        os.makedirs(tree)
        for i in range(40):
            with open(os.path.join(tree, f"f{i:02d}.bin"), "wb") as f:
                f.write(os.urandom(20_000))
        env = {"REGCACHE_PACK_SIZE": str(128 * 1024)}
        _, out, _ = self.rc("--json", "save", "--key", "v1", "t", env=env)
        first = parse_json(out)
        self.assertGreater(first["layers"], 1)
        self.rc("--json", "restore", "--key", "v1", env=env)
        _, out, err = self.rc("-v", "--json", "save", "--key", "v2", "t", env=env)
        j = parse_json(out)
        self.assertEqual(j["reused_layers"], j["layers"], j)
        self.assertIn(f"regcache: base entry v1: {first['layers']} layers with fingerprints\n", err)
        self.assertIn(f"{j['layers']} layers ({j['reused_layers']} reused)", err)
        self.assertIn("regcache: based on entry v1\n", err)
        # without -v the base is not named
        self.rc("--json", "restore", "--key", "v2", env=env)
        _, _, err = self.rc("--json", "save", "--key", "v3", "t", env=env)
        self.assertNotIn("base entry", err)
        self.assertNotIn("based on", err)


# ---------------------------------------------------------------------------------------
# Help, completions, man page


class DocsTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        _, cls.help, _ = run(["--help"], check=True)
        cls.commands = commands_from_help(cls.help)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="regcache-docs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_commands_listed(self):
        for c in REQUIRED_COMMANDS:
            self.assertIn(c, self.commands)

    def test_every_help_has_examples(self):
        self.assertIn("Examples:", self.help)
        for c in self.commands:
            with self.subTest(command=c):
                rc, out, err = run([c, "--help"])
                self.assertEqual(rc, 0, err)
                self.assertIn("Examples:", out, f"`regcache {c} --help` has no Examples: section")
                self.assertIn(f"regcache {c}", out.split("Examples:", 1)[-1])

    def complete(self, script, words, cword):
        path = os.path.join(self.tmp, "regcache.bash")
        with open(path, "w", encoding="utf-8") as f:
            f.write(script)
        words_sh = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        code = (f"source {path} || exit 9\n"
                f"COMP_WORDS=({words_sh}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"\n"
                "_regcache\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", code], cwd=self.tmp, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30, env=clean_env(self.tmp))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        return [l for l in p.stdout.decode().splitlines() if l]

    def test_bash_completion(self):
        _, script, _ = run(["completion", "bash"], check=True)
        self.assertIn("complete -o filenames -F _regcache regcache", script)
        self.assertEqual(self.complete(script, ["regcache", "re"], 1), ["restore"])
        self.assertEqual(self.complete(script, ["regcache", "save", "--pr"], 2), ["--preset"])
        self.assertEqual(self.complete(script, ["regcache", "--json", "save", "--pr"], 3), ["--preset"])
        self.assertIn("--restore-key", self.complete(script, ["regcache", "restore", "--re"], 2))
        everything = self.complete(script, ["regcache", ""], 1)
        for c in self.commands:
            self.assertIn(c, everything)

    def test_zsh_completion(self):
        _, script, _ = run(["completion", "zsh"], check=True)
        self.assertTrue(script.startswith("#compdef regcache\n"), script[:80])
        for c in self.commands:
            self.assertIn(f"    '{c}:", script)
            self.assertIn(f"        {c}) _arguments", script)
        zsh = shutil.which("zsh")
        if zsh:
            path = os.path.join(self.tmp, "_regcache")
            with open(path, "w", encoding="utf-8") as f:
                f.write(script)
            p = subprocess.run([zsh, "-n", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_unknown_shell_is_a_usage_error(self):
        rc, out, err = run(["completion", "fish"])
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, "")
        self.assertIn("fish", err)

    def test_man_page(self):
        _, page, _ = run(["man"], check=True)
        self.assertTrue(page.startswith(".TH REGCACHE 1 "), page[:80])
        for section in (".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH COMMANDS", ".SH EXAMPLES"):
            self.assertIn("\n" + section + "\n", page)
        for c in self.commands:
            self.assertIn(f"\n.SS {c}\n", page)
        all_opts = set()
        for c in (None, "save", "restore"):
            _, h, _ = run(([c] if c else []) + ["--help"], check=True)
            opts = long_options_from_help(h)
            self.assertIn("--help", opts)
            if c:
                self.assertIn("--key", opts)
                section = page.split(f"\n.SS {c}\n", 1)[1].split("\n.SS ", 1)[0]
            else:
                self.assertIn("--summary", opts)
                section = page.split("\n.SH OPTIONS\n", 1)[1].split("\n.SH COMMANDS\n", 1)[0]
            for o in opts:
                with self.subTest(command=c, option=o):
                    # \-\-restore-key or \-\-restore\-key
                    spelled = r"\\-\\-" + r"\\?-".join(re.escape(w) for w in o[2:].split("-"))
                    self.assertRegex(section, r"\n\.B (?:.*, )?" + spelled + r"(?![\w\\-])")
                    all_opts.add(o)
        for line in page.splitlines():
            self.assertFalse(line.startswith("'"), line)
        man = shutil.which("man")
        if not man:
            return
        path = os.path.join(self.tmp, "regcache.1")
        with open(path, "w", encoding="utf-8") as f:
            f.write(page)
        env = clean_env(self.tmp, {"MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"})
        p = subprocess.run(["bash", "-o", "pipefail", "-c", f"{man} -l {path} | cat"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.decode(), "")
        text = p.stdout.decode("utf-8", "replace")
        self.assertIn("REGCACHE(1)", text)
        self.assertIn("SYNOPSIS", text)
        for o in sorted(all_opts):
            self.assertIn(o, text, "an option is not rendered with ASCII hyphens")

    def test_build_leaves_generated_files_beside_the_binary(self):
        d = os.path.dirname(os.path.abspath(BIN))
        present = 0
        for name, args in (("regcache.1", ["man"]), ("regcache.bash", ["completion", "bash"]),
                           ("_regcache", ["completion", "zsh"])):
            path = os.path.join(d, name)
            if not os.path.exists(path):
                continue
            present += 1
            with self.subTest(file=name):
                _, out, _ = run(args, check=True)
                with open(path, encoding="utf-8") as f:
                    self.assertEqual(f.read(), out, f"{path} differs from `regcache {' '.join(args)}`")
        if not present:
            self.skipTest(f"no generated files beside {BIN}")


if __name__ == "__main__":
    unittest.main()
