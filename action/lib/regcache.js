// Runs the regcache binary: its environment (credentials, workspace), its arguments, its JSON result.
'use strict';

const { spawn } = require('node:child_process');
const { onGithubCom } = require('./inputs');

// The registry host of a store reference, or '' for a local oci: layout.
function storeHost(store) {
  if (store.startsWith('oci:')) return '';
  return store.replace(/^docker:\/\//, '').split('/')[0].toLowerCase();
}

// The REGCACHE_USERNAME/REGCACHE_PASSWORD to hand regcache. The token goes to ghcr.io from
// github.com, or to another registry (ghcr.io from GitHub Enterprise Server included) only
// when a username is given too: a GitHub token is never sent elsewhere by default (regcache
// then uses the runner's docker/podman logins).
function credentials(options, env = process.env) {
  const host = storeHost(options.store);
  if (!options.token || !host) return {};
  if ((host !== 'ghcr.io' || !onGithubCom(env)) && !options.username) return {};
  return {
    REGCACHE_USERNAME: options.username || env.GITHUB_ACTOR || 'x-access-token',
    REGCACHE_PASSWORD: options.token,
  };
}

// The environment regcache runs with: the step's, minus the action inputs (the token among
// them), plus credentials, the upload chunk size and the keys of signed entries (the
// signing key only for save and restore); GITHUB_WORKSPACE and RUNNER_TEMP pass through.
function regcacheEnv(options, env = process.env, command = '') {
  const result = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('INPUT_')) result[name] = value;
  }
  // actions/cache's upload-chunk-size: blobs larger than this go up in PATCH chunks of it.
  if (options.uploadChunkSize) result.REGCACHE_UPLOAD_CHUNK = options.uploadChunkSize;
  if (options.verifyKeys) result.REGCACHE_VERIFY_KEYS = options.verifyKeys;
  // A machine-local tier in front of the registry (self-hosted runners keep a disk).
  if (options.localCache) result.REGCACHE_LOCAL_CACHE = options.localCache;
  if (options.localCacheMax) result.REGCACHE_LOCAL_CACHE_MAX = options.localCacheMax;
  // A job holding the signing key restores only entries signed with it (regcache restore
  // verifies with its public half) and signs what it saves.
  if (options.signKey && (command === 'save' || command === 'restore')) result.REGCACHE_SIGNING_KEY = options.signKey;
  return Object.assign(result, credentials(options, env));
}

// The global arguments every command gets.
function globalArgs(options) {
  return ['--store', options.store, '--json'];
}

// Runs `bin args...` in the workspace; stderr streams to the log. Resolves to
// { code, result (parsed JSON stdout or null), message (regcache's error line or '') }.
function runRegcache(bin, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: process.env.GITHUB_WORKSPACE || process.cwd(),
      env: regcacheEnv(options, process.env, args[globalArgs(options).length]),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; process.stderr.write(chunk); });
    child.on('error', (err) => reject(new Error(`cannot run ${bin}: ${err.message}`)));
    child.on('close', (code, signal) => {
      let result = null;
      try { result = stdout.trim() ? JSON.parse(stdout) : null; } catch { result = null; }
      resolve({ code: code === null ? 1 : code, result, message: errorLine(stderr, code, signal) });
    });
  });
}

// regcache's last "error:" line without its prefix, else a description of how it ended.
function errorLine(stderr, code, signal) {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => l.startsWith('regcache: error: '));
  if (errors.length) return errors[errors.length - 1].slice('regcache: error: '.length);
  if (signal) return `regcache was killed by ${signal}`;
  return code ? `regcache exited with status ${code}` : '';
}

module.exports = { globalArgs, regcacheEnv, runRegcache };
