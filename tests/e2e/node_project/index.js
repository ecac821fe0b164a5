const isNumber = require("is-number");
const isOdd = require("is-odd");
const ms = require("ms");
console.log(`node-e2e ${isNumber(5)} ${isOdd(3)} ${ms("2h")}`);
