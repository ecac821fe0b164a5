// The save steps: the action's post step (saves under the restore step's primary key unless
// there is a reason not to) and save/ (saves under the key input).
'use strict';

const fs = require('node:fs');
const { getState, info, mask, notice, warning, fail } = require('./runner');
const { readInputs, recordedOptions } = require('./inputs');
const { resolveBinary, Unavailable } = require('./binary');
const { globalArgs, runRegcache } = require('./regcache');

// The arguments of `regcache save` for these options, under `key`, reusing layers of `base`.
function saveArgs(options, key, base) {
  const args = [...globalArgs(options), 'save'];
  if (key) args.push('--key', key);
  if (base) args.push('--base', base);
  for (const p of options.paths) args.push('--path', p);
  for (const preset of options.presets) args.push('--preset', preset);
  if (options.compressionLevel) args.push('--level', options.compressionLevel);
  return args;
}

// Saves; a failure is a warning, or fails the step with fail-on-save-error.
async function saveCache(bin, options, key, base) {
  const { code, message } = await runRegcache(bin, saveArgs(options, key, base), options);
  if (code === 0) return;
  const text = `Cache not saved: ${message}`;
  if (options.failOnSaveError) fail(text);
  else warning(`${text} (set fail-on-save-error to fail the step)`);
}

// The binary, or '' after a warning (an error with fail-on-save-error) when it cannot be
// had: a download that fails must not fail the job, as a save that fails does not.
async function binaryOrWarn(options) {
  try {
    return await resolveBinary(options.regcachePath);
  } catch (err) {
    if (!(err instanceof Unavailable)) throw err;
    const text = `Cache not saved: ${err.message}`;
    if (options.failOnSaveError) fail(text);
    else warning(`${text} (set fail-on-save-error to fail the step)`);
    return '';
  }
}

// Why the post step must not save, or '' when it should. The runner started it only after
// a successful job or, when a step asked for save-on-failure, after a failed one
// (action.yml's post-if); with several regcache steps in a job, the job-status input tells
// a step that did not ask for it that the job failed.
function postSkipReason(options) {
  const primaryKey = getState('primary_key');
  if (!primaryKey) return 'the restore step did not finish or found no key';
  if (getState('cache_hit') === 'true') return `exact hit on key ${primaryKey}, nothing new to save`;
  if (!options.saveIf) {
    return options.forkDefault ? 'this run is for a pull request from a fork (see save-if)' : 'save-if is false';
  }
  if (options.jobStatus && options.jobStatus !== 'success' && !options.saveOnFailure) {
    return `the job status is ${options.jobStatus} (set save-on-failure to save anyway)`;
  }
  return '';
}

// The post step of the action: saves with the options the main step recorded.
async function postStep() {
  const recordedJson = getState('options');
  if (!recordedJson) return info('Not saving the cache: the restore step did not finish or found no key.');
  const options = recordedOptions(recordedJson);
  mask(options.token);
  mask(options.signKey);
  const reason = postSkipReason(options);
  if (reason) return info(`Not saving the cache: ${reason}.`);
  const recorded = getState('regcache');
  const bin = recorded && fs.existsSync(recorded) ? recorded : await binaryOrWarn(options);
  if (bin) await saveCache(bin, options, getState('primary_key'), getState('matched_key'));
}

// The save/ sub-action's only step.
async function saveStep() {
  const options = readInputs();
  mask(options.token);
  mask(options.signKey);
  options.notices.forEach(notice);
  if (!options.saveIf) return info('Not saving the cache: save-if is false (or a pull request from a fork).');
  const bin = await binaryOrWarn(options);
  if (bin) await saveCache(bin, options, options.key, '');
}

module.exports = { postStep, saveStep };
