// The restore step (main step of the action, and all of restore/): restores the cache, sets the
// outputs and records in the step state what the post step needs to save.
'use strict';

const { mask, notice, setOutput, saveState, exportVariable, warning, fail } = require('./runner');
const { readInputs, recordOptions } = require('./inputs');
const { resolveBinary, Unavailable } = require('./binary');
const { globalArgs, runRegcache } = require('./regcache');

// The job environment variable action.yml's post-if reads.
const SAVE_ON_FAILURE = 'REGCACHE_SAVE_ON_FAILURE';

// The arguments of `regcache restore` for these options.
function restoreArgs(options) {
  const args = [...globalArgs(options), 'restore'];
  if (options.key) args.push('--key', options.key);
  for (const prefix of options.restoreKeys) args.push('--restore-key', prefix);
  for (const preset of options.presets) args.push('--preset', preset);
  // Only these paths (and the presets') are written, whatever roots the entry holds.
  for (const p of options.paths) args.push('--path', p);
  if (options.lookupOnly) args.push('--lookup-only');
  if (options.failOnCacheMiss) args.push('--fail-on-miss');
  if (!options.externalSymlinks) args.push('--no-external-symlinks');
  return args;
}

// The primary key regcache would use (`regcache key`), for when the restore itself failed; '' if unknown.
async function primaryKeyOf(bin, options) {
  const args = ['--json', 'key'];
  for (const preset of options.presets) args.push('--preset', preset);
  if (options.key) args.push(options.key);
  const { code, result } = await runRegcache(bin, args, options);
  return code === 0 && result && result.key ? result.key : '';
}

// Restores, sets cache-hit / cache-primary-key / cache-matched-key, records the state.
async function restoreStep() {
  const options = readInputs();
  mask(options.token);
  mask(options.signKey);
  options.notices.forEach(notice);
  let bin;
  try {
    bin = await resolveBinary(options.regcachePath);
  } catch (err) {
    if (!(err instanceof Unavailable)) throw err;
    // No binary (a download that failed, a runner without a release): the job goes on
    // without a cache, as after any restore that fails, unless a miss must fail it.
    setOutput('cache-hit', 'false');
    setOutput('cache-primary-key', '');
    setOutput('cache-matched-key', '');
    if (options.failOnCacheMiss) return fail(`Cache not restored: ${err.message} (fail-on-cache-miss)`);
    return warning(`Cache not restored: ${err.message}`);
  }
  const { code, result, message } = await runRegcache(bin, restoreArgs(options), options);
  const answered = Boolean(result) && (code === 0 || code === 3);
  const primaryKey = answered ? result.key || '' : await primaryKeyOf(bin, options);
  const matchedKey = answered && result.matched_key ? result.matched_key : '';
  const hit = answered && result.result === 'hit';
  setOutput('cache-hit', String(hit));
  setOutput('cache-primary-key', primaryKey);
  setOutput('cache-matched-key', matchedKey);
  if (code === 2) return fail(`regcache restore: ${message}`);
  if (code === 3) return fail(`Cache not found for key ${primaryKey} or any restore key (fail-on-cache-miss)`);
  if (code !== 0 && options.failOnCacheMiss) return fail(`Cache not restored: ${message} (fail-on-cache-miss)`);
  if (code !== 0) warning(`Cache not restored: ${message}`);
  saveState('regcache', bin);
  saveState('primary_key', primaryKey);
  saveState('matched_key', matchedKey);
  saveState('cache_hit', String(hit));
  saveState('options', recordOptions(options));
  // Read by action.yml's post-if: the post step then runs after a failed job too. Never
  // set to false, so one step cannot take this away from another's.
  if (options.saveOnFailure) exportVariable(SAVE_ON_FAILURE, 'true');
}

module.exports = { restoreStep, SAVE_ON_FAILURE };
