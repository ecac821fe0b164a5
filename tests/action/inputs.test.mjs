// How inputs become regcache calls, with a stand-in regcache: default store, presets, credentials,
// post-step skip rules (job status, forks), save/, and the action.yml files declaring every input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Job, SOURCE_DIR, commands, fakeRegcache, tempDir } from './helpers.mjs';
import fork from '../../action/lib/fork.js';

// A job whose regcache is the stand-in; `calls()` returns the logged calls.
function fakeJob(options = {}) {
  const dir = tempDir();
  const log = path.join(dir, 'calls.log');
  const job = new Job({ ...options, env: { FAKE_LOG: log, ...options.env } });
  job.bin = fakeRegcache(dir);
  job.calls = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
  return job;
}

test('the default store is ghcr.io/<owner>/<repo>/cache, lower-cased; the token goes to ghcr.io', async () => {
  const job = fakeJob({ repository: 'Acme-Org/My.App' });
  const r = await job.run('main.js', { key: 'k', token: 'ghs_secret', 'regcache-path': job.bin });
  assert.equal(r.code, 0, r.stdout);
  assert.equal(job.calls()[0],
    '--store ghcr.io/acme-org/my.app/cache --json restore --key k user=octo-actor password=set inputs=0');
  assert.equal(r.summary, '', 'the action writes no job summary of its own');
});

test('the token is not sent to another registry unless a username is given, nor to a local layout', async () => {
  const cases = [
    [{ store: 'registry.example.com/team/cache' }, 'user=none password='],
    [{ store: 'docker://registry.example.com/team/cache', username: 'bob' }, 'user=bob password=set'],
    [{ store: 'oci:/tmp/nowhere', username: 'bob' }, 'user=none password='],
    [{ store: 'ghcr.io/acme/app/cache', token: '' }, 'user=none password='],
  ];
  for (const [extra, expected] of cases) {
    const job = fakeJob();
    const r = await job.run('main.js', { key: 'k', token: 'ghs_secret', 'regcache-path': job.bin, ...extra });
    assert.equal(r.code, 0, r.stdout);
    assert.ok(job.calls()[0].endsWith(`${expected} inputs=0`), `${JSON.stringify(extra)}: ${job.calls()[0]}`);
  }
});

test('on GitHub Enterprise Server the store must be named, and its token never goes to ghcr.io', async () => {
  const ghes = { GITHUB_SERVER_URL: 'https://ghes.corp.example' };
  const none = fakeJob({ env: ghes });
  const r = await none.run('main.js', { key: 'k', token: 'ghes_token', 'regcache-path': none.bin });
  assert.notEqual(r.code, 0);
  assert.match(commands(r.stdout, 'error').join('\n'), /on https:\/\/ghes\.corp\.example \(GitHub Enterprise Server\) name the registry/);
  assert.deepEqual(none.calls(), []);
  const named = fakeJob({ env: ghes });
  const n = await named.run('main.js', { key: 'k', token: 'ghes_token', store: 'ghcr.io/acme/app/cache', 'regcache-path': named.bin });
  assert.equal(n.code, 0, n.stdout);
  assert.ok(named.calls()[0].endsWith('user=none password= inputs=0'), named.calls()[0]);
  const github = fakeJob({ env: { GITHUB_SERVER_URL: 'https://github.com' } });
  await github.run('main.js', { key: 'k', token: 'ghs_token', 'regcache-path': github.bin });
  assert.ok(github.calls()[0].endsWith('password=set inputs=0'), github.calls()[0]);
});

test('restore gets the key, restore keys, presets (lines or commas) and the flags', async () => {
  const job = fakeJob();
  const r = await job.run('main.js', {
    key: 'k', 'restore-keys': 'a-\n  b-\n', preset: 'rust, node\ngo', 'lookup-only': 'true',
    'fail-on-cache-miss': 'false', 'external-symlinks': 'false', store: 'oci:/s', 'regcache-path': job.bin,
  });
  assert.equal(r.code, 0, r.stdout);
  assert.ok(job.calls()[0].startsWith('--store oci:/s --json restore --key k --restore-key a- --restore-key b- ' +
    '--preset rust --preset node --preset go --lookup-only --no-external-symlinks '), job.calls()[0]);
  assert.deepEqual(r.outputs, { 'cache-hit': 'false', 'cache-primary-key': 'fake-key', 'cache-matched-key': '' });
});

test('the post step saves under the primary key with paths, presets and level, unless the job failed', async () => {
  const base = { key: 'k', path: 'target\n~/.cargo/registry\n!**/*.o', preset: 'rust', 'compression-level': '7',
    store: 'oci:/s', 'job-status': 'success' };
  const saveCall = '--store oci:/s --json save --key fake-key --path target --path ~/.cargo/registry ' +
    '--path !**/*.o --preset rust --level 7 user=none password= inputs=0';

  const job = fakeJob();
  const inputs = { ...base, 'regcache-path': job.bin };
  assert.equal((await job.run('main.js', inputs)).code, 0);
  const post = await job.run('post.js', inputs);
  assert.equal(post.code, 0, post.stdout);
  assert.deepEqual(job.calls().slice(1), [saveCall]);
  assert.equal(post.summary, '', 'the action writes no job summary of its own');

  const failed = await job.run('post.js', { ...inputs, 'job-status': 'failure' });
  assert.match(failed.stdout, /Not saving the cache: the job status is failure \(set save-on-failure/);
  assert.equal(job.calls().length, 2);
  const anyway = { ...inputs, 'save-on-failure': 'true' };
  assert.equal((await job.run('main.js', anyway)).code, 0);
  await job.run('post.js', { ...anyway, 'job-status': 'failure' });
  assert.deepEqual(job.calls().slice(3), [saveCall]);
});

test('the post step saves with what the main step recorded, whatever inputs it gets itself', async () => {
  const job = fakeJob();
  const inputs = { key: 'k', path: 'target\nvendor', preset: 'rust', 'compression-level': '5', store: 'oci:/s',
    'regcache-path': job.bin, 'upload-chunk-size': '4096' };
  assert.equal((await job.run('main.js', inputs)).code, 0);
  assert.ok(!JSON.stringify(job.state).includes('ghs_'), 'no token in the state');
  const post = await job.run('post.js', { token: 'ghs_secret' });
  assert.equal(post.code, 0, post.stdout);
  assert.deepEqual(job.calls().slice(1), ['--store oci:/s --json save --key fake-key --path target --path vendor ' +
    '--preset rust --level 5 user=none password= inputs=0 chunk=4096']);
  const lost = fakeJob();
  const orphan = await lost.run('post.js', inputs);
  assert.match(orphan.stdout, /Not saving the cache: the restore step did not finish/);
  assert.deepEqual(lost.calls(), []);
});

// The runner starts the post step by action.yml's post-if, in the job's environment: the
// main step exports REGCACHE_SAVE_ON_FAILURE when asked to save after a failure.
test('save-on-failure: the main step tells post-if, and the post step then saves after a failure', async () => {
  const plain = fakeJob();
  const inputs = { key: 'k', path: 'target', store: 'oci:/s', 'regcache-path': plain.bin };
  const quiet = await plain.run('main.js', inputs);
  assert.deepEqual(quiet.exported, {});
  assert.deepEqual(['success', 'failure', 'cancelled'].map((s) => plain.postRuns(s)), [true, false, false]);

  for (const flag of ['save-on-failure', 'save-always']) {
    const job = fakeJob();
    const main = await job.run('main.js', { ...inputs, 'regcache-path': job.bin, [flag]: 'true' });
    assert.equal(main.code, 0, main.stdout);
    assert.deepEqual(main.exported, { REGCACHE_SAVE_ON_FAILURE: 'true' }, flag);
    assert.deepEqual(['success', 'failure', 'cancelled'].map((s) => job.postRuns(s)), [true, true, false], flag);
    const post = await job.run('post.js', { ...inputs, 'regcache-path': job.bin, [flag]: 'true' });
    assert.equal(post.code, 0, post.stdout);
    assert.match(job.calls()[1], / save --key fake-key /, flag);
  }

  // Two regcache steps, one asking: the other's main step leaves the flag alone, and its post
  // step, started after a failure because of the first, skips by the job status.
  const both = fakeJob();
  await both.run('main.js', { ...inputs, 'regcache-path': both.bin, 'save-on-failure': 'true' });
  const second = await both.run('main.js', { ...inputs, 'regcache-path': both.bin });
  assert.deepEqual(second.exported, {});
  assert.equal(both.postRuns('failure'), true);
  const skipped = await both.run('post.js', { ...inputs, 'regcache-path': both.bin, 'job-status': 'failure' });
  assert.match(skipped.stdout, /the job status is failure/);
});

test('every input of actions/cache v4 is accepted: the meaningless ones with a notice', async () => {
  const job = fakeJob();
  const inputs = { key: 'k', path: 'target', 'restore-keys': 'k-', store: 'oci:/s', 'regcache-path': job.bin,
    'lookup-only': 'false', 'fail-on-cache-miss': 'false', enableCrossOsArchive: 'true',
    'upload-chunk-size': '1048576', 'save-always': 'true' };
  const main = await job.run('main.js', inputs);
  assert.equal(main.code, 0, main.stdout);
  assert.deepEqual(commands(main.stdout, 'notice'), [
    'enableCrossOsArchive has no effect: regcache entries restore on any OS',
    'save-always is taken as save-on-failure (actions/cache deprecated it)']);
  assert.deepEqual(commands(main.stdout, 'warning'), []);
  const post = await job.run('post.js', inputs);
  assert.deepEqual(commands(post.stdout, 'notice'), [], 'the post step does not repeat them');
  assert.match(job.calls()[1], / save --key fake-key .* chunk=1048576$/);

  const saver = fakeJob();
  const saved = await saver.run('save.js', { key: 'k', path: 'target', store: 'oci:/s', 'regcache-path': saver.bin,
    'upload-chunk-size': '65536', enableCrossOsArchive: 'false' });
  assert.equal(saved.code, 0, saved.stdout);
  assert.equal(commands(saved.stdout, 'notice').length, 1);
  assert.match(saver.calls()[0], / chunk=65536$/);

  for (const [value, message] of [['32MB', /must be a number/], ['100', /must be at least 1024/]]) {
    const r = await fakeJob().run('main.js', { ...inputs, 'upload-chunk-size': value });
    assert.equal(r.code, 1);
    assert.match(commands(r.stdout, 'error').join('\n'), message);
  }
});

test('pull requests from forks skip the save by default; save-if true overrides', async () => {
  const event = { pull_request: { head: { repo: { full_name: 'someone/app', fork: true } } } };
  const job = fakeJob({ eventName: 'pull_request_target', event });
  const inputs = { key: 'k', path: 'target', store: 'oci:/s', 'regcache-path': job.bin, 'job-status': 'success' };
  await job.run('main.js', inputs);
  const skipped = await job.run('post.js', inputs);
  assert.match(skipped.stdout, /pull request from a fork/);
  assert.equal(job.calls().length, 1);
  await job.run('main.js', { ...inputs, 'save-if': 'true' });
  await job.run('post.js', { ...inputs, 'save-if': 'true' });
  assert.match(job.calls()[2], / save --key fake-key /);
});

test('fork detection reads the event payload', () => {
  const dir = tempDir();
  const env = (name, payload) => {
    const file = path.join(dir, `${Math.random()}.json`);
    if (payload !== undefined) fs.writeFileSync(file, JSON.stringify(payload));
    return { GITHUB_EVENT_NAME: name, GITHUB_EVENT_PATH: file, GITHUB_REPOSITORY: 'Acme/App' };
  };
  const pr = (fullName, isFork) => ({ pull_request: { head: { repo: fullName && { full_name: fullName, fork: isFork } } } });
  assert.equal(fork.isForkPullRequest(env('push', {})), false);
  assert.equal(fork.isForkPullRequest(env('pull_request', pr('acme/app', false))), false);
  assert.equal(fork.isForkPullRequest(env('pull_request', pr('Acme/App', true))), false,
    'a branch of a repository that is itself a fork is not a fork pull request');
  assert.equal(fork.isForkPullRequest(env('pull_request', pr('someone/app', true))), true);
  assert.equal(fork.isForkPullRequest(env('pull_request_target', pr('someone/app', true))), true);
  assert.equal(fork.isForkPullRequest(env('pull_request', pr(null))), true, 'deleted head repository');
  assert.equal(fork.isForkPullRequest(env('pull_request')), true, 'unreadable event');
});

test('save/ saves under the key input; bad inputs fail the step with one error', async () => {
  const job = fakeJob();
  const inputs = { key: 'mykey', path: 'target', store: 'oci:/s', 'regcache-path': job.bin };
  assert.equal((await job.run('save.js', inputs)).code, 0);
  assert.equal(job.calls()[0], '--store oci:/s --json save --key mykey --path target user=none password= inputs=0');
  assert.match((await job.run('save.js', { ...inputs, 'save-if': 'false' })).stdout, /Not saving/);

  for (const [extra, message] of [
    [{ key: '' }, /set the key input, or a preset/],
    [{ 'lookup-only': 'yes' }, /lookup-only must be true or false/],
    [{ 'compression-level': 'max' }, /compression-level must be a number/],
    [{ 'regcache-path': '/nonexistent/regcache' }, /regcache-path \/nonexistent\/regcache does not exist/],
  ]) {
    const r = await job.run('main.js', { ...inputs, ...extra });
    assert.equal(r.code, 1);
    assert.match(commands(r.stdout, 'error').join('\n'), message);
  }
  assert.equal(job.calls().length, 1);
});

test('each action.yml declares the inputs its script reads and the outputs it sets', () => {
  const read = (rel) => fs.readFileSync(path.join(SOURCE_DIR, rel), 'utf8');
  const declared = (yml, section) => {
    const body = yml.split(/^(?=\S)/m).find((s) => s.startsWith(`${section}:`)) || '';
    return [...body.matchAll(/^ {2}([A-Za-z-]+):/gm)].map((m) => m[1]).sort();
  };
  const all = ['compression-level', 'enableCrossOsArchive', 'external-symlinks', 'fail-on-cache-miss',
    'fail-on-save-error', 'job-status', 'key', 'lookup-only', 'path', 'preset', 'regcache-path', 'restore-keys',
    'save-always', 'save-if', 'save-on-failure', 'sign-key', 'store', 'token', 'upload-chunk-size', 'username',
    'verify-keys', 'local-cache', 'local-cache-max'].sort();
  const outputs = ['cache-hit', 'cache-matched-key', 'cache-primary-key'];
  const root = read('action.yml');
  assert.deepEqual(declared(root, 'inputs'), all);
  assert.deepEqual(declared(root, 'outputs'), outputs);
  assert.match(root, /main: action\/main\.js/);
  assert.match(root, /post: action\/post\.js/);
  const restore = read('restore/action.yml');
  assert.deepEqual(declared(restore, 'outputs'), outputs);
  assert.match(restore, /main: \.\.\/action\/main\.js/);
  assert.match(read('save/action.yml'), /main: \.\.\/action\/save\.js/);
  for (const yml of [restore, read('save/action.yml')]) {
    for (const input of declared(yml, 'inputs')) assert.ok(all.includes(input), input);
  }
  // actions/cache/restore and actions/cache/save's inputs, so that switching is one line.
  for (const input of ['key', 'restore-keys', 'path', 'lookup-only', 'fail-on-cache-miss', 'enableCrossOsArchive'])
    assert.ok(declared(restore, 'inputs').includes(input), `restore/ lacks ${input}`);
  for (const input of ['key', 'path', 'upload-chunk-size', 'enableCrossOsArchive'])
    assert.ok(declared(read('save/action.yml'), 'inputs').includes(input), `save/ lacks ${input}`);
});

test('every action runs on Node 24, and its scripts need nothing newer than this node', () => {
  for (const rel of ['action.yml', 'restore/action.yml', 'save/action.yml']) {
    const yml = fs.readFileSync(path.join(SOURCE_DIR, rel), 'utf8');
    assert.match(yml, /^ {2}using: node24$/m, rel);
  }
  const [major] = process.versions.node.split('.').map(Number);
  assert.ok(major >= 18, `the action and its tests need Node 18 or later (fetch, node:test); this is ${major}`);
  // No dependencies: every require is node's own or a file of the action.
  const dir = path.join(SOURCE_DIR, 'action');
  const files = fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js'));
  assert.ok(files.length > 5);
  for (const file of files) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const [, name] of text.matchAll(/require\('([^']+)'\)/g))
      assert.ok(name.startsWith('node:') || name.startsWith('./') || name.startsWith('../'), `${file}: ${name}`);
  }
});
