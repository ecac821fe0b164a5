#!/bin/bash
# End to end with a real build tool: a Rust project built offline with cargo against
# Debian's librust-*-dev crates. Cold build, save target/ to the real registry, delete
# target/, restore, build again: the second build must compile nothing.
# Prints the timings the docs quote (docs/e2e.md).
set -euo pipefail
. "$(dirname "$0")/cargo_setup.sh"
store="$REG_OPEN/e2e/cargo-$(date +%s%N)"
now() { date +%s.%N; }

t0=$(now)
cargo build --offline 2> cold.log || { cat cold.log; exit 1; }
t1=$(now)
grep -c Compiling cold.log > /dev/null || { echo "FAIL: the cold build compiled nothing"; exit 1; }

"$REGCACHE_BIN" --store "$store" --json save --key "cargo-e2e-linux" target > save.json
grep -q '"result":"saved"' save.json || { echo "FAIL: save: $(cat save.json)"; exit 1; }
rm -rf target

t2=$(now)
"$REGCACHE_BIN" --store "$store" --json restore --key "cargo-e2e-linux" > restore.json
cargo build --offline 2> warm.log || { cat warm.log; exit 1; }
t3=$(now)
grep -q '"result":"hit"' restore.json || { echo "FAIL: restore: $(cat restore.json)"; exit 1; }
if grep -q Compiling warm.log; then
  echo "FAIL: the build after restore compiled again:"; cat warm.log; exit 1
fi
./target/debug/regcache-e2e | grep -q cargo-e2e
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
  'BEGIN { printf "cold build: %.1f s; restore + rebuild: %.1f s\n", b - a, d - c }'
echo "save: $(cat save.json)"
echo "restore: $(cat restore.json)"
echo "1 passed, 0 failed"
