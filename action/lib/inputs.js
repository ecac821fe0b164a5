// Reads the action's inputs into one options object, applying the documented defaults.
'use strict';

const { getInput, getList, getBoolean } = require('./runner');
const { isForkPullRequest } = require('./fork');

// The default store: ghcr.io/<owner>/<repo>/cache, lower-cased as registries require.
function defaultStore(env = process.env) {
  const repository = env.GITHUB_REPOSITORY;
  if (!repository) throw new Error('input store is empty and GITHUB_REPOSITORY is not set');
  return `ghcr.io/${repository.toLowerCase()}/cache`;
}

// Returns the compression-level input as a string of digits, or '' when unset.
function compressionLevel() {
  const level = getInput('compression-level');
  if (level !== '' && !/^[0-9]+$/.test(level)) {
    throw new Error(`input compression-level must be a number, not "${level}"`);
  }
  return level;
}

// Reads every input; throws on a value that cannot be right (the step then fails).
function readInputs(env = process.env) {
  const options = {
    key: getInput('key'),
    restoreKeys: getList('restore-keys'),
    paths: getList('path'),
    presets: getList('preset', { commas: true }),
    store: getInput('store') || defaultStore(env),
    token: getInput('token'),
    username: getInput('username'),
    lookupOnly: getBoolean('lookup-only', false),
    failOnCacheMiss: getBoolean('fail-on-cache-miss', false),
    externalSymlinks: getBoolean('external-symlinks', true),
    saveIf: getBoolean('save-if', !isForkPullRequest(env)),
    saveOnFailure: getBoolean('save-on-failure', false),
    failOnSaveError: getBoolean('fail-on-save-error', false),
    compressionLevel: compressionLevel(),
    regcachePath: getInput('regcache-path'),
    jobStatus: getInput('job-status'),
  };
  if (!options.key && options.presets.length === 0) {
    throw new Error('set the key input, or a preset that supplies one');
  }
  return options;
}

module.exports = { readInputs };
