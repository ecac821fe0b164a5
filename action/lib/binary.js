// Finds the regcache binary: the regcache-path input, else this action version's release
// asset, downloaded once per runner into the tool cache after its SHA-256 checked out.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { info } = require('./runner');

// The binary cannot be had here and now (no release for this runner, a download that
// failed): the job goes on without a cache. A wrong digest or asset is not this: it fails.
class Unavailable extends Error {}

// Linux only: no macOS or Windows asset is released (a runner there sets regcache-path).
const OS_NAMES = { Linux: 'linux', linux: 'linux' };
const ARCH_NAMES = { X64: 'x86_64', ARM64: 'aarch64', x64: 'x86_64', arm64: 'aarch64' };

// The release asset's platform, from RUNNER_OS/RUNNER_ARCH (else node's own idea of them).
function platform(env = process.env) {
  const osName = OS_NAMES[env.RUNNER_OS || process.platform];
  const arch = ARCH_NAMES[env.RUNNER_ARCH || process.arch];
  if (!osName || !arch) {
    throw new Unavailable(`no regcache release for ${env.RUNNER_OS || process.platform}/` +
      `${env.RUNNER_ARCH || process.arch}; build regcache and set the regcache-path input`);
  }
  return { os: osName, arch };
}

// This action's version: the project version in the CMakeLists.txt it ships with.
function actionVersion() {
  const cmake = fs.readFileSync(path.join(__dirname, '..', '..', 'CMakeLists.txt'), 'utf8');
  const match = /project\(regcache\s+VERSION\s+([0-9][0-9.]*)/.exec(cmake);
  if (!match) throw new Error('cannot find the regcache version in CMakeLists.txt');
  return match[1];
}

// Where the release assets are: $REGCACHE_RELEASE_URL, else this action's GitHub release.
function releaseUrl(version, env = process.env) {
  const base = env.REGCACHE_RELEASE_URL ||
    `https://github.com/${env.GITHUB_ACTION_REPOSITORY || env.GITHUB_REPOSITORY}/releases/download/v${version}`;
  return base.endsWith('/') ? base : `${base}/`;
}

// GETs `url` into a Buffer, trying three times.
async function download(url) {
  let lastError;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(120000) });
      if (response.ok) return Buffer.from(await response.arrayBuffer());
      lastError = new Error(`GET ${url}: HTTP ${response.status}`);
      if (response.status < 500 && response.status !== 429) break;
    } catch (err) {
      lastError = new Error(`GET ${url}: ${err.cause ? err.cause.message : err.message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, attempt * 1000));
  }
  const proxy = process.env.HTTPS_PROXY || process.env.https_proxy;
  throw new Unavailable(lastError.message +
    (proxy ? ' (node\'s fetch does not use HTTPS_PROXY: behind a proxy, set the regcache-path input)' : ''));
}

// Downloads `asset` and its .sha256, verifies it, unpacks it into `dir` (atomically), marks it complete.
async function install(baseUrl, asset, dir) {
  const tarball = await download(baseUrl + asset);
  const sumText = (await download(`${baseUrl}${asset}.sha256`)).toString('utf8');
  const expected = (/^[0-9a-fA-F]{64}\b/.exec(sumText.trim()) || [''])[0].toLowerCase();
  if (!expected) throw new Error(`${asset}.sha256 holds no SHA-256 digest`);
  const actual = crypto.createHash('sha256').update(tarball).digest('hex');
  if (actual !== expected) {
    throw new Error(`SHA-256 mismatch for ${baseUrl}${asset}: expected ${expected}, got ${actual}`);
  }
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const staging = fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}-`));
  try {
    const file = path.join(staging, asset);
    fs.writeFileSync(file, tarball);
    fs.mkdirSync(path.join(staging, 'x'));
    execFileSync('tar', ['-xzf', file, '-C', path.join(staging, 'x')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const extracted = path.join(staging, 'x', 'regcache');
    if (!fs.existsSync(extracted) || !fs.statSync(extracted).isFile()) {
      throw new Error(`${asset} holds no file named regcache at its top level`);
    }
    fs.chmodSync(extracted, 0o755);
    if (!fs.existsSync(`${dir}.complete`)) fs.rmSync(dir, { recursive: true, force: true });  // a leftover
    try {
      fs.renameSync(path.join(staging, 'x'), dir);
    } catch (err) {
      if (!fs.existsSync(path.join(dir, 'regcache'))) throw err;  // else another job installed it meanwhile
    }
    fs.writeFileSync(`${dir}.complete`, '');  // the layout actions/tool-cache uses
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

// Returns the path of the regcache binary to run, installing it first when needed.
async function resolveBinary(regcachePath, env = process.env) {
  if (regcachePath) {
    if (!fs.existsSync(regcachePath)) throw new Error(`regcache-path ${regcachePath} does not exist`);
    return path.resolve(regcachePath);
  }
  const { os: osName, arch } = platform(env);
  const version = actionVersion();
  const toolCache = env.RUNNER_TOOL_CACHE || env.RUNNER_TEMP || os.tmpdir();
  const dir = path.join(toolCache, 'regcache', version, arch);
  const bin = path.join(dir, 'regcache');
  if (fs.existsSync(`${dir}.complete`) && fs.existsSync(bin)) return bin;
  const asset = `regcache-${osName}-${arch}.tar.gz`;
  const baseUrl = releaseUrl(version, env);
  info(`Downloading ${baseUrl}${asset}`);
  await install(baseUrl, asset, dir);
  return bin;
}

module.exports = { resolveBinary, platform, actionVersion, releaseUrl, Unavailable };
