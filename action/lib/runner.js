// The GitHub Actions runner protocol (what @actions/core does): inputs, outputs, state, log commands.
'use strict';

const fs = require('node:fs');
const crypto = require('node:crypto');

// Returns input `name` as the runner passes it (env INPUT_<NAME>), trimmed; '' when unset.
function getInput(name) {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '').trim();
}

// Returns the non-empty, trimmed lines of a multi-line input (also split on commas if asked).
function getList(name, { commas = false } = {}) {
  const separator = commas ? /[\n,]/ : /\n/;
  return getInput(name).split(separator).map((s) => s.trim()).filter(Boolean);
}

// Returns a boolean input (true/false in YAML's spellings); `fallback` when empty; throws otherwise.
function getBoolean(name, fallback) {
  const value = getInput(name);
  if (value === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new Error(`input ${name} must be true or false, not "${value}"`);
}

// Escapes a workflow command's message so that newlines and '%' survive.
function escape(text) {
  return String(text).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

// Writes the workflow command `::name::message` on stdout.
function command(name, message) {
  process.stdout.write(`::${name}::${escape(message)}\n`);
}

// Writes a plain log line.
function info(message) {
  process.stdout.write(`${message}\n`);
}

const notice = (message) => command('notice', message);
const warning = (message) => command('warning', message);
const error = (message) => command('error', message);

// Tells the runner to hide `secret` everywhere in the log from now on; a PEM key line by
// line (the runner masks single lines), its BEGIN and END lines aside.
function mask(secret) {
  if (!secret) return;
  if (!secret.includes('\n')) return command('add-mask', secret);
  for (const line of secret.split('\n').map((l) => l.trim())) {
    if (line && !line.startsWith('-----')) command('add-mask', line);
  }
}

// Appends `name=value` to the runner's file named by env var `fileVar` (GITHUB_OUTPUT, GITHUB_STATE).
function appendFileCommand(fileVar, name, value) {
  const file = process.env[fileVar];
  if (!file) throw new Error(`${fileVar} is not set: is this running on a GitHub Actions runner?`);
  const text = String(value);
  if (!text.includes('\n')) {
    fs.appendFileSync(file, `${name}=${text}\n`);
    return;
  }
  const delimiter = `ghadelimiter_${crypto.randomUUID()}`;
  fs.appendFileSync(file, `${name}<<${delimiter}\n${text}\n${delimiter}\n`);
}

const setOutput = (name, value) => appendFileCommand('GITHUB_OUTPUT', name, value);
const saveState = (name, value) => appendFileCommand('GITHUB_STATE', name, value);
// Sets an environment variable for the job's later steps (and their post-if conditions).
const exportVariable = (name, value) => appendFileCommand('GITHUB_ENV', name, value);

// Returns what the main step saved with saveState (the runner passes it as env STATE_<name>).
function getState(name) {
  return process.env[`STATE_${name}`] || '';
}

// Logs `message` as an error and makes the step fail.
function fail(message) {
  error(message);
  process.exitCode = 1;
}

// Runs an entry point's async `step`, turning an exception into a failed step.
function run(step) {
  step().catch((err) => fail(err && err.message ? err.message : String(err)));
}

module.exports = {
  getInput, getList, getBoolean, info, notice, warning, mask,
  setOutput, saveState, exportVariable, getState, fail, run,
};
