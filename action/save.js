// Entry point of save/: saves the cache under the key input.
'use strict';

const { run } = require('./lib/runner');
const { saveStep } = require('./lib/save');

run(saveStep);
