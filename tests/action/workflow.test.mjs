// .github/workflows/ci.yml replayed on the fake runner: every job that uses the action runs
// here with the same inputs, the same `if:` conditions and the same shell checks, for a push
// to main, a tag and a pull request, against the open test registry. What the replay stands
// in for: actions/checkout (the workspace is a fresh directory), `make build` (the binary
// under test is linked as build/regcache), service containers and ghcr.io (the open test
// registry, in a repository of this run).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Job, REGCACHE_BIN, SOURCE_DIR, startServices } from './helpers.mjs';
import { condition, interpolate } from './expressions.mjs';

const WORKFLOW = path.join(SOURCE_DIR, '.github', 'workflows', 'ci.yml');
const SCRIPTS = { './': 'main.js', './restore': 'main.js', './save': 'save.js' };
const STOOD_IN = new Set(['make build']);

// The workflow as JSON (PyYAML reads it; YAML 1.1 turns the key `on` into true).
function loadWorkflow(file) {
  const json = execFileSync('/usr/bin/python3', ['-c',
    'import json, sys, yaml\n' +
    'd = yaml.safe_load(open(sys.argv[1]))\n' +
    'd["on"] = d.pop(True, d.get("on"))\n' +
    'print(json.dumps(d))', file], { encoding: 'utf8' });
  return JSON.parse(json);
}

let services;
let workflow;
let registry;
before(async () => {
  services = await startServices();
  workflow = loadWorkflow(WORKFLOW);
  registry = `${services.vars.REG_OPEN}/wf-${Date.now().toString(36)}-${process.pid}`;
});
after(() => services && services.stop());

// The store a step's inputs name, moved onto the test registry: ghcr.io (the default) is one
// repository for every run, a service container's registry a new one per run, as on GitHub.
function mapStore(store, github) {
  if (!store) return `${registry}/ghcr/${github.repository}/cache`;
  return store.replace(/^localhost:5000/, `${registry}/service-${github.run_id}`);
}

// Runs one workflow job; returns { result: 'success'|'failure'|'skipped', log }.
async function runJob(name, spec, github, needs) {
  const context = { github, env: {}, steps: {}, runner: { os: 'Linux' }, needs, job: { status: 'success' } };
  if ((spec.needs ? [].concat(spec.needs) : []).some((n) => needs[n].result !== 'success'))
    return { result: 'skipped', log: 'a needed job did not succeed' };
  if (!condition(spec.if, context)) return { result: 'skipped', log: `if: ${spec.if}` };
  const job = new Job({ repository: github.repository, eventName: github.event_name, event: github.event,
    env: { GITHUB_REF: github.ref, GITHUB_RUN_ID: github.run_id } });
  fs.mkdirSync(path.join(job.workspace, 'build'));
  fs.symlinkSync(REGCACHE_BIN, path.join(job.workspace, 'build', 'regcache'));
  github.workspace = job.workspace;
  const log = [];
  const posts = [];
  for (const step of spec.steps) {
    context.env = job.env;
    if (!condition(step.if, context)) continue;
    if (step.uses && step.uses.startsWith('actions/checkout@')) continue;
    if (step.run && STOOD_IN.has(step.run.trim())) continue;
    let ok;
    if (step.uses) {
      const script = SCRIPTS[step.uses];
      assert.ok(script, `${name}: the replay does not know ${step.uses}`);
      const inputs = {};
      for (const [k, v] of Object.entries(step.with || {})) inputs[k] = interpolate(v, context);
      inputs.store = mapStore(inputs.store, github);
      const r = await job.run(script, inputs);
      log.push(`${step.uses}: ${r.code}\n${r.stdout}${r.stderr}`);
      if (step.id) context.steps[step.id] = { outputs: r.outputs, outcome: r.code === 0 ? 'success' : 'failure' };
      if (step.uses === './') posts.push({ inputs, state: r.state });  // each step has its own state
      ok = r.code === 0;
    } else {
      const env = { ...job.env };
      for (const [k, v] of Object.entries(step.env || {})) env[k] = interpolate(v, context);
      const r = spawnSync('bash', ['--noprofile', '--norc', '-e', '-c', interpolate(step.run, context)],
        { cwd: job.workspace, env, encoding: 'utf8' });
      log.push(`run ${step.run}: ${r.status}\n${r.stdout}${r.stderr}`);
      ok = r.status === 0;
    }
    if (!ok) context.job.status = 'failure';
  }
  for (const { inputs, state } of posts.reverse()) {
    if (!job.postRuns(context.job.status)) continue;
    job.state = state;
    const r = await job.run('post.js', inputs);
    log.push(`post: ${r.code}\n${r.stdout}${r.stderr}`);
    if (r.code !== 0) context.job.status = 'failure';
  }
  return { result: context.job.status, log: log.join('\n') };
}

// Runs the workflow's jobs that can run here, in `needs` order, for one event.
async function runWorkflow(github) {
  const results = {};
  const pending = Object.entries(workflow.jobs).filter(([, spec]) => !spec.container);
  while (pending.length) {
    const at = pending.findIndex(([, spec]) => [].concat(spec.needs || []).every((n) => results[n]));
    assert.ok(at >= 0, 'needs form a cycle');
    const [name, spec] = pending.splice(at, 1)[0];
    results[name] = await runJob(name, spec, { ...github }, results);
  }
  return results;
}

const ran = (results) => Object.keys(results).filter((n) => results[n].result !== 'skipped').sort();
const explain = (results) => Object.entries(results).map(([n, r]) => `== ${n}: ${r.result}\n${r.log}`).join('\n');

test('the CI workflow: main seeds, the next job hits, a tag and a pull request start from main', async () => {
  const repository = 'acme/app';
  const main = await runWorkflow({ event_name: 'push', ref: 'refs/heads/main', run_id: '101', sha: 'a'.repeat(40),
    repository, event: {} });
  assert.deepEqual(ran(main), ['hit', 'registry', 'seed'], explain(main));
  for (const r of Object.values(main)) assert.notEqual(r.result, 'failure', explain(main));

  const tag = await runWorkflow({ event_name: 'push', ref: 'refs/tags/v1.2.3', run_id: '102', sha: 'b'.repeat(40),
    repository, event: {} });
  assert.deepEqual(ran(tag), ['registry', 'tag'], explain(tag));
  for (const r of Object.values(tag)) assert.notEqual(r.result, 'failure', explain(tag));

  const event = { pull_request: { head: { repo: { full_name: 'someone/app', fork: true } } } };
  const pr = await runWorkflow({ event_name: 'pull_request', ref: 'refs/pull/7/merge', run_id: '103',
    sha: 'c'.repeat(40), repository, event });
  assert.deepEqual(ran(pr), ['pull-request', 'registry'], explain(pr));
  for (const r of Object.values(pr)) assert.notEqual(r.result, 'failure', explain(pr));
  assert.match(pr['pull-request'].log, /Not saving the cache: save-if is false/);

  // What the registry holds afterwards: main's and the tag's entries, none of the pull request's.
  const list = execFileSync(REGCACHE_BIN, ['--store', `${registry}/ghcr/${repository}/cache`, '--json', 'list'],
    { encoding: 'utf8' });
  const keys = JSON.parse(list).map((e) => e.key).sort();
  assert.deepEqual(keys, ['ci-main-101', 'ci-tag-102']);
});

test('the workflow file uses only inputs the actions declare and outputs they set', () => {
  const declared = (rel, section) => {
    const yml = fs.readFileSync(path.join(SOURCE_DIR, rel, 'action.yml'), 'utf8');
    const body = yml.split(/^(?=\S)/m).find((s) => s.startsWith(`${section}:`)) || '';
    return [...body.matchAll(/^ {2}([A-Za-z-]+):/gm)].map((m) => m[1]);
  };
  for (const [name, spec] of Object.entries(workflow.jobs)) {
    assert.ok(spec['runs-on'], `${name}: runs-on`);
    const ids = {};
    for (const step of spec.steps) {
      assert.ok(Boolean(step.uses) !== Boolean(step.run), `${name}: a step has either uses or run`);
      if (step.uses && step.uses.startsWith('./')) {
        const dir = step.uses.slice(2);
        for (const input of Object.keys(step.with || {}))
          assert.ok(declared(dir, 'inputs').includes(input), `${name}: ${step.uses} has no input ${input}`);
        if (step.id) ids[step.id] = declared(dir, 'outputs');
      }
      const text = JSON.stringify(step);
      for (const [, id, output] of text.matchAll(/steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)/g)) {
        assert.ok(ids[id], `${name}: step ${id} is not an earlier step with outputs`);
        assert.ok(ids[id].includes(output), `${name}: ${id} sets no output ${output}`);
      }
    }
    for (const need of [].concat(spec.needs || [])) assert.ok(workflow.jobs[need], `${name}: needs ${need}`);
  }
  assert.deepEqual(Object.keys(workflow.on).sort(), ['pull_request', 'push']);
});
