// Entry point of the action's post step: saves the cache after the job.
'use strict';

const { run } = require('./lib/runner');
const { postStep } = require('./lib/save');

run(postStep);
