// Fetching regcache when regcache-path is unset: download from a local release server, SHA-256
// check, install into the tool cache once, and clear failures for a bad digest or a missing asset.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Job, commands, fakeRegcache, serveFiles, tempDir } from './helpers.mjs';
import binary from '../../action/lib/binary.js';

const ASSET = 'regcache-linux-x86_64.tar.gz';
const VERSION = binary.actionVersion();
let server;
let baseUrl;
const requests = [];
const files = new Map();  // URL path -> body

before(async () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'pkg'));
  fakeRegcache(path.join(dir, 'pkg'));
  execFileSync('tar', ['-czf', path.join(dir, ASSET), '-C', path.join(dir, 'pkg'), 'regcache']);
  const tarball = fs.readFileSync(path.join(dir, ASSET));
  const digest = crypto.createHash('sha256').update(tarball).digest('hex');
  files.set(`/good/${ASSET}`, tarball);
  files.set(`/good/${ASSET}.sha256`, `${digest}  ${ASSET}\n`);
  fs.mkdirSync(path.join(dir, 'other'));
  fs.writeFileSync(path.join(dir, 'other', 'README'), 'no binary here');
  execFileSync('tar', ['-czf', path.join(dir, 'other.tar.gz'), '-C', path.join(dir, 'other'), 'README']);
  const other = fs.readFileSync(path.join(dir, 'other.tar.gz'));
  files.set(`/empty/${ASSET}`, other);
  files.set(`/empty/${ASSET}.sha256`, crypto.createHash('sha256').update(other).digest('hex'));
  files.set(`/bad/${ASSET}`, tarball);
  files.set(`/bad/${ASSET}.sha256`, `${'0'.repeat(64)}  ${ASSET}\n`);
  ({ server, baseUrl } = await serveFiles(files, requests));
});
after(() => server && server.close());

const inputs = { key: 'k', path: 'target', store: 'oci:/unused' };

test('downloads the release asset, checks its SHA-256, installs it into the tool cache once', async () => {
  requests.length = 0;
  const tools = tempDir();
  const job = new Job({ env: { REGCACHE_RELEASE_URL: `${baseUrl}/good`, RUNNER_TOOL_CACHE: tools } });
  const r = await job.run('main.js', inputs);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.outputs['cache-primary-key'], 'fake-key', 'the downloaded regcache ran');
  assert.deepEqual(requests, [`/good/${ASSET}`, `/good/${ASSET}.sha256`]);
  const installed = path.join(tools, 'regcache', VERSION, 'x86_64', 'regcache');
  assert.ok(fs.existsSync(`${path.dirname(installed)}.complete`));
  assert.equal(r.state.regcache, installed, 'the post step reuses it');
  assert.deepEqual(fs.readdirSync(path.join(tools, 'regcache', VERSION)).sort(), ['x86_64', 'x86_64.complete']);

  const again = new Job({ env: { REGCACHE_RELEASE_URL: `${baseUrl}/good`, RUNNER_TOOL_CACHE: tools } });
  assert.equal((await again.run('main.js', inputs)).code, 0);
  assert.equal(requests.length, 2, 'the second job used the tool cache');
});

test('a wrong SHA-256 fails the step clearly and installs nothing', async () => {
  const tools = tempDir();
  const job = new Job({ env: { REGCACHE_RELEASE_URL: `${baseUrl}/bad/`, RUNNER_TOOL_CACHE: tools } });
  const r = await job.run('main.js', inputs);
  assert.equal(r.code, 1);
  const errors = commands(r.stdout, 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0], new RegExp(`SHA-256 mismatch for ${baseUrl}/bad/${ASSET}: expected 0{64}, got [0-9a-f]{64}`));
  assert.ok(!fs.existsSync(path.join(tools, 'regcache')), 'nothing written before the digest matched');
  assert.deepEqual(r.outputs, {});
});

test('an asset without a regcache at its top level fails clearly and leaves nothing behind', async () => {
  const tools = tempDir();
  const job = new Job({ env: { REGCACHE_RELEASE_URL: `${baseUrl}/empty`, RUNNER_TOOL_CACHE: tools } });
  const r = await job.run('main.js', inputs);
  assert.equal(r.code, 1);
  assert.match(commands(r.stdout, 'error').join('\n'), /holds no file named regcache at its top level/);
  assert.deepEqual(fs.readdirSync(path.join(tools, 'regcache', VERSION)), [], 'no staging leftovers');
});

test('a platform without a release asset is one clear warning, and the job goes on uncached', async () => {
  const arm = new Job({ env: { REGCACHE_RELEASE_URL: `${baseUrl}/good`, RUNNER_ARCH: 'ARM64' } });
  const r = await arm.run('main.js', inputs);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(commands(r.stdout, 'warning').join('\n'), /regcache-linux-aarch64\.tar\.gz: HTTP 404/);
  assert.equal(r.outputs['cache-hit'], 'false');
  const windows = new Job({ env: { RUNNER_OS: 'Windows' } });
  const w = await windows.run('main.js', inputs);
  assert.equal(w.code, 0);
  assert.match(commands(w.stdout, 'warning').join('\n'), /no regcache release for Windows\/X64; .*regcache-path/);
});

test('the default release URL is this action repository\'s release of the CMake project version', () => {
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
  assert.equal(binary.releaseUrl('1.2.3', { GITHUB_ACTION_REPOSITORY: 'owner/regcache', GITHUB_REPOSITORY: 'a/b' }),
    'https://github.com/owner/regcache/releases/download/v1.2.3/');
  assert.equal(binary.releaseUrl('1.2.3', { GITHUB_REPOSITORY: 'owner/regcache' }),
    'https://github.com/owner/regcache/releases/download/v1.2.3/', 'a local action (uses: ./) is this repository');
  assert.deepEqual(binary.platform({ RUNNER_OS: 'Linux', RUNNER_ARCH: 'ARM64' }), { os: 'linux', arch: 'aarch64' });
  // No macOS asset is released: a clear message, not a 404 from the download.
  assert.throws(() => binary.platform({ RUNNER_OS: 'macOS', RUNNER_ARCH: 'ARM64' }),
    /no regcache release for macOS\/ARM64; build regcache and set the regcache-path input/);
});
