// Tells whether the run is for a pull request from a fork, whose caches the action does not save.
'use strict';

const fs = require('node:fs');

const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target'];

// True for a pull_request(_target) event whose head repository is not this repository
// (GITHUB_EVENT_PATH's pull_request.head.repo.full_name); also when that cannot be read.
function isForkPullRequest(env = process.env) {
  if (!PULL_REQUEST_EVENTS.includes(env.GITHUB_EVENT_NAME)) return false;
  let event;
  try {
    event = JSON.parse(fs.readFileSync(env.GITHUB_EVENT_PATH, 'utf8'));
  } catch {
    return true;  // cannot tell: treat as a fork, the safe side
  }
  const head = event && event.pull_request && event.pull_request.head;
  const headName = head && head.repo && head.repo.full_name;
  if (!headName) return true;  // the head repository was deleted
  return headName.toLowerCase() !== String(env.GITHUB_REPOSITORY || '').toLowerCase();
}

module.exports = { isForkPullRequest };
