// Reads the action's inputs into one options object, applying the documented defaults.
'use strict';

const { getInput, getList, getBoolean } = require('./runner');
const { isForkPullRequest } = require('./fork');

// True on github.com (GITHUB_SERVER_URL unset counts), false on GitHub Enterprise Server.
function onGithubCom(env = process.env) {
  return !env.GITHUB_SERVER_URL || /^https:\/\/github\.com\/?$/i.test(env.GITHUB_SERVER_URL);
}

// The default store: ghcr.io/<owner>/<repo>/cache, lower-cased as registries require.
// Not on GitHub Enterprise Server: ghcr.io is github.com's registry, which neither the
// instance's repository names nor its token belong to.
function defaultStore(env = process.env) {
  if (!onGithubCom(env)) {
    throw new Error(`input store is empty: on ${env.GITHUB_SERVER_URL} (GitHub Enterprise Server) ` +
      'name the registry to use (the default, ghcr.io, is github.com\'s)');
  }
  const repository = env.GITHUB_REPOSITORY;
  if (!repository) throw new Error('input store is empty and GITHUB_REPOSITORY is not set');
  return `ghcr.io/${repository.toLowerCase()}/cache`;
}

// Returns input `name` as a string of digits, or '' when unset; throws on anything else.
function digits(name) {
  const value = getInput(name);
  if (value !== '' && !/^[0-9]+$/.test(value)) {
    throw new Error(`input ${name} must be a number, not "${value}"`);
  }
  return value;
}

// The upload-chunk-size input (bytes, as actions/cache has it), or '' when unset.
function uploadChunkSize() {
  const value = digits('upload-chunk-size');
  if (value !== '' && Number(value) < 1024) {
    throw new Error(`input upload-chunk-size must be at least 1024 (bytes), not ${value}`);
  }
  return value;
}

// The inputs of actions/cache v4 that mean nothing here, accepted so that switching is a
// one-line change, each with the notice it gets when set.
const IGNORED = {
  enableCrossOsArchive: 'enableCrossOsArchive has no effect: regcache entries restore on any OS',
};

// Reads every input; throws on a value that cannot be right (the step then fails).
// `notices` lists one line per actions/cache input that was mapped or ignored.
function readInputs(env = process.env) {
  const notices = [];
  for (const [name, text] of Object.entries(IGNORED)) if (getInput(name) !== '') notices.push(text);
  const saveAlways = getBoolean('save-always', false);
  if (saveAlways) notices.push('save-always is taken as save-on-failure (actions/cache deprecated it)');
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
    forkDefault: getInput('save-if') === '',
    saveOnFailure: getBoolean('save-on-failure', false) || saveAlways,
    failOnSaveError: getBoolean('fail-on-save-error', false),
    compressionLevel: digits('compression-level'),
    uploadChunkSize: uploadChunkSize(),
    regcachePath: getInput('regcache-path'),
    signKey: getInput('sign-key'),
    localCache: getInput('local-cache'),
    localCacheMax: getInput('local-cache-max'),
    verifyKeys: getInput('verify-keys'),
    jobStatus: getInput('job-status'),
    notices,
  };
  if (!options.key && options.presets.length === 0) {
    throw new Error('set the key input, or a preset that supplies one');
  }
  return options;
}

// What the post step needs of the main step's options (the token and the signing key
// excepted: they are read again from the inputs, never written to the step state).
const RECORDED = ['store', 'paths', 'presets', 'username', 'lookupOnly', 'saveIf', 'forkDefault', 'saveOnFailure',
  'failOnSaveError', 'compressionLevel', 'uploadChunkSize', 'regcachePath', 'verifyKeys', 'localCache',
  'localCacheMax'];

// Returns the options to record for the post step, as JSON.
function recordOptions(options) {
  const kept = {};
  for (const name of RECORDED) kept[name] = options[name];
  return JSON.stringify(kept);
}

// Returns the options the main step recorded (JSON from recordOptions) with the token and
// signing key inputs.
function recordedOptions(json) {
  const kept = JSON.parse(json);
  return { ...kept, token: getInput('token'), signKey: getInput('sign-key'), jobStatus: getInput('job-status'),
    notices: [] };
}

module.exports = { readInputs, recordOptions, recordedOptions, onGithubCom };
