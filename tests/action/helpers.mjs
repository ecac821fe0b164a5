// Test helpers: a fake GitHub runner job that runs the action's scripts as the runner does,
// the loopback registries of tests/harness, and a stand-in regcache that records its calls.
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { condition } from './expressions.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = path.resolve(here, '..', '..');
export const ACTION_DIR = path.join(SOURCE_DIR, 'action');
export const REGCACHE_BIN = process.env.REGCACHE_BIN || path.join(SOURCE_DIR, 'build', 'regcache');
const SERVICES = path.join(SOURCE_DIR, 'tests', 'harness', 'services.py');

const tempDirs = [];
process.on('exit', () => { for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true }); });

// A new temporary directory, removed when the test process exits.
export function tempDir(prefix = 'regcache-action-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

// Parses a runner file-command file (GITHUB_OUTPUT, GITHUB_STATE): name=value and heredoc forms.
export function parseFileCommands(text) {
  const values = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const body = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i]);
      values[heredoc[1]] = body.join('\n');
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=');
      values[lines[i].slice(0, at)] = lines[i].slice(at + 1);
    }
  }
  return values;
}

// One job on a fake runner: its own workspace, home, RUNNER_TEMP and tool cache; the state
// the main step saves is handed to the post step as STATE_* like the runner does.
export class Job {
  constructor({ repository = 'acme/app', eventName = 'push', event = {}, env = {} } = {}) {
    this.root = tempDir();
    for (const d of ['workspace', 'home', 'temp', 'tools', 'files']) fs.mkdirSync(path.join(this.root, d));
    this.workspace = path.join(this.root, 'workspace');
    this.temp = path.join(this.root, 'temp');
    this.tools = path.join(this.root, 'tools');
    const eventPath = path.join(this.root, 'event.json');
    fs.writeFileSync(eventPath, JSON.stringify(event));
    this.env = {
      PATH: process.env.PATH,
      HOME: path.join(this.root, 'home'),
      XDG_CACHE_HOME: path.join(this.root, 'home', '.cache'),
      GITHUB_WORKSPACE: this.workspace,
      GITHUB_REPOSITORY: repository,
      GITHUB_ACTOR: 'octo-actor',
      GITHUB_EVENT_NAME: eventName,
      GITHUB_EVENT_PATH: eventPath,
      RUNNER_TEMP: this.temp,
      RUNNER_TOOL_CACHE: this.tools,
      RUNNER_OS: 'Linux',
      RUNNER_ARCH: 'X64',
      ...env,
    };
    this.state = {};
    this.steps = 0;
  }

  // Writes `content` to the workspace file `rel`.
  write(rel, content) {
    const file = path.join(this.workspace, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }

  // Runs action/<script> with `inputs` (INPUT_<NAME>, dashes kept) like the runner runs a step.
  // Resolves to { code, stdout, stderr, outputs, state, exported (GITHUB_ENV), summary, files };
// what the step exported is in the env of the job's later steps.
  async run(script, inputs = {}, env = {}) {
    const n = ++this.steps;
    const files = {};
    for (const name of ['GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_ENV', 'GITHUB_STEP_SUMMARY']) {
      files[name] = path.join(this.root, 'files', `${n}-${name}`);
      fs.writeFileSync(files[name], '');
    }
    const stepEnv = { ...this.env, ...files, ...env };
    for (const [name, value] of Object.entries(inputs)) stepEnv[`INPUT_${name.toUpperCase()}`] = value;
    if (script === 'post.js') {
      for (const [name, value] of Object.entries(this.state)) stepEnv[`STATE_${name}`] = value;
    }
    const { code, stdout, stderr } = await runNode(path.join(ACTION_DIR, script), stepEnv, this.workspace);
    const read = (name) => fs.readFileSync(files[name], 'utf8');
    const result = {
      code, stdout, stderr,
      outputs: parseFileCommands(read('GITHUB_OUTPUT')),
      state: parseFileCommands(read('GITHUB_STATE')),
      exported: parseFileCommands(read('GITHUB_ENV')),
      summary: read('GITHUB_STEP_SUMMARY'),
      files: Object.values(files).map((f) => fs.readFileSync(f, 'utf8')).join('\n'),
    };
    if (script === 'main.js') this.state = result.state;
    Object.assign(this.env, result.exported);  // as the runner does for the job's later steps
    return result;
  }

  // Returns true when the runner would start the action's post step after a job that ended
  // with `status` (success, failure, cancelled): action.yml's post-if in this job's env.
  postRuns(status) {
    return condition(ACTION_POST_IF, { env: this.env, job: { status } });
  }
}

// The post-if condition of the action (action.yml).
export const ACTION_POST_IF = /^\s*post-if:\s*(.+)$/m.exec(
  fs.readFileSync(path.join(SOURCE_DIR, 'action.yml'), 'utf8'))[1].trim();

// Runs `node script` with exactly `env`; resolves to { code, stdout, stderr }.
function runNode(script, env, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

// The workflow-command lines `::name::...` of a step's stdout, without the prefix.
export function commands(stdout, name) {
  const prefix = `::${name}::`;
  return stdout.split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

// The loopback registries: those of $REGCACHE_SERVICES_DIR (a CTest fixture started them), or
// ones started here. Resolves to { vars (services.json), stop() }.
export async function startServices() {
  if (process.env.REGCACHE_SERVICES_DIR) {
    const dir = process.env.REGCACHE_SERVICES_DIR;
    return { vars: JSON.parse(fs.readFileSync(path.join(dir, 'services.json'), 'utf8')), stop() {} };
  }
  const dir = tempDir('regcache-action-services-');
  execFileSync('/usr/bin/python3', [SERVICES, 'start', '--dir', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = () => execFileSync('/usr/bin/python3', [SERVICES, 'stop', '--dir', dir], { stdio: 'inherit' });
  try {
    return { vars: JSON.parse(fs.readFileSync(path.join(dir, 'services.json'), 'utf8')), stop };
  } catch (err) {
    stop();
    throw err;
  }
}

// Writes an executable stand-in for regcache into `dir`: it appends its arguments (one call
// per line), whether credentials reached it (never their values) and the upload chunk size
// to $FAKE_LOG, and prints
// the JSON regcache would. Returns its path.
export function fakeRegcache(dir, { version = '0.0.0-fake' } = {}) {
  const file = path.join(dir, 'regcache');
  fs.writeFileSync(file, `#!/bin/sh
# Stand-in for regcache in the action tests.
[ "$1" = "--version" ] && { echo "regcache ${version}"; exit 0; }
echo "$* user=\${REGCACHE_USERNAME:-none} password=\${REGCACHE_PASSWORD:+set} inputs=$(env | grep -c '^INPUT_')\${REGCACHE_UPLOAD_CHUNK:+ chunk=\$REGCACHE_UPLOAD_CHUNK}" >> "\${FAKE_LOG:-/dev/null}"
case " $* " in
  *" restore "*) echo '{"result":"miss","key":"fake-key","matched_key":null,"files":0,"bytes":0,"downloaded_bytes":0,"seconds":0}' ;;
  *" save "*) echo '{"result":"saved","key":"fake-key","files":1,"bytes":1,"uploaded_bytes":1,"seconds":0}' ;;
  *" key "*) echo '{"key":"fake-key","restore_keys":[]}' ;;
esac
`, { mode: 0o755 });
  return file;
}

// Serves a fixed set of files (URL path -> body) on loopback, recording each requested
// path in `requests`; anything else is a 404. Returns the server and its base URL.
export async function serveFiles(files, requests) {
  const server = http.createServer((req, res) => {
    requests.push(req.url);
    const body = files.get(req.url);
    res.writeHead(body ? 200 : 404);
    res.end(body || 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, baseUrl: `http://127.0.0.1:${server.address().port}` };
}
