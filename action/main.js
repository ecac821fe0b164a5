// Entry point of the action's main step (and of restore/): restores the cache.
'use strict';

const { run } = require('./lib/runner');
const { restoreStep } = require('./lib/restore');

run(restoreStep);
