// regcache's exit statuses (docs/usage.md): the contract scripts and CI steps rely on.
#pragma once

namespace regcache {

enum ExitCode : int {
  kExitSuccess = 0,  // a restore miss and an empty save included
  kExitError = 1,
  kExitUsage = 2,         // a malformed option, argument or REGCACHE_* variable
  kExitMiss = 3,          // a miss with --fail-on-miss
  kExitSignalBase = 128,  // + the signal that cancelled the command (130 SIGINT, 143 SIGTERM)
};

}  // namespace regcache
