#!/bin/bash
# End to end with cargo: a project built offline against Debian's librust-*-dev crates (a
# directory source). First target/ alone, saved to the real registry under a plain key,
# deleted, restored: the rebuild compiles nothing (the timings docs/e2e.md quotes). Then
# `--preset rust`: saved with the preset, everything the preset caches wiped, restored
# with the preset: the rebuild compiles only the workspace crate (the preset keeps it out
# of the cache), no dependency. Then
# Cargo.lock changes: the key must change and restore must fall back (partial) on the
# first entry through the preset's restore keys. The cold job also built --release; the
# job after the change builds only debug, so its save must leave out every restored
# release unit (not used in this build) and keep every debug one.
set -euo pipefail
. "$(dirname "$0")/cargo_setup.sh"
store="$REG_OPEN/e2e/rust-$RANDOM-$(date +%s%N)"
rc() { "$REGCACHE_BIN" --store "$store" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2"; }
now() { date +%s.%N; }

t0=$(now)
cargo build --offline 2> "$work/cold.log" || { cat "$work/cold.log"; fail "cold build"; }
t1=$(now)
grep -q Compiling "$work/cold.log" || fail "the cold build compiled nothing"

# target/ alone under a plain key: restored, it makes the rebuild compile nothing.
plain="$REG_OPEN/e2e/cargo-$RANDOM-$(date +%s%N)"
"$REGCACHE_BIN" --store "$plain" --json save --key cargo-e2e-linux target > "$work/plain-save.json" \
  || { cat "$work/plain-save.json"; fail "plain save exited non-zero"; }
[ "$(field result "$work/plain-save.json")" = saved ] || fail "plain save: $(cat "$work/plain-save.json")"
rm -rf target
p2=$(now)
"$REGCACHE_BIN" --store "$plain" --json restore --key cargo-e2e-linux > "$work/plain-restore.json" \
  || { cat "$work/plain-restore.json"; fail "plain restore exited non-zero"; }
cargo build --offline 2> "$work/plain-warm.log" || { cat "$work/plain-warm.log"; fail "build after the plain restore"; }
p3=$(now)
[ "$(field result "$work/plain-restore.json")" = hit ] || fail "plain restore: $(cat "$work/plain-restore.json")"
if grep -q Compiling "$work/plain-warm.log"; then
  echo "FAIL: the build after the plain restore compiled again:"; cat "$work/plain-warm.log"; exit 1
fi
./target/debug/regcache-e2e | grep -q cargo-e2e || fail "the binary restored under the plain key does not run"
cargo build --offline --release 2> "$work/cold-release.log" || { cat "$work/cold-release.log"; fail "cold release build"; }
[ -f Cargo.lock ] || fail "cargo wrote no Cargo.lock"

key1=$(rc key --preset rust | head -n 1)
case "$key1" in rust-linux-*-*-*) ;; *) fail "unexpected rust preset key '$key1'" ;; esac

# A leftover of a dependency the project no longer has: the preset must not cache it.
mkdir -p target/debug/.fingerprint/gone_crate-0123456789abcdef
touch target/debug/deps/libgone_crate-0123456789abcdef.rlib
rc --json save --preset rust > "$work/save.json" || { cat "$work/save.json"; fail "save exited non-zero"; }
[ "$(field result "$work/save.json")" = saved ] || fail "save: $(cat "$work/save.json")"
[ "$(field key "$work/save.json")" = "$key1" ] \
  || fail "save used key '$(field key "$work/save.json")', 'regcache key' printed '$key1'"

# Wipe everything the preset caches (registry/ and git/ may not exist with a directory
# source: the preset skips them on save).
rm -rf target "$CARGO_HOME/registry" "$CARGO_HOME/git"

t2=$(now)
rc --json restore --preset rust > "$work/restore.json" || { cat "$work/restore.json"; fail "restore exited non-zero"; }
cargo build --offline 2> "$work/warm.log" || { cat "$work/warm.log"; fail "build after restore"; }
t3=$(now)
[ "$(field result "$work/restore.json")" = hit ] || fail "restore: $(cat "$work/restore.json")"
[ "$(field matched_key "$work/restore.json")" = "$key1" ] || fail "restore matched another key: $(cat "$work/restore.json")"
# The preset keeps the workspace's own crate out of the cache (it changes with every
# commit), so exactly that one crate is compiled again, and no dependency.
compiled=$(grep Compiling "$work/warm.log" || true)
if [ "$(printf '%s\n' "$compiled" | grep -c .)" != 1 ] || ! printf '%s' "$compiled" | grep -q "Compiling regcache-e2e"; then
  echo "FAIL: the build after restore compiled more than the workspace crate:"; cat "$work/warm.log"; exit 1
fi
[ ! -e target/debug/incremental ] || [ -z "$(ls -A target/debug/incremental)" ] \
  || [ "$(find target/debug/incremental -newer "$work/restore.json" | head -1)" ] \
  || fail "incremental/ came back from the cache"
[ ! -e target/debug/deps/libgone_crate-0123456789abcdef.rlib ] && [ ! -e target/debug/.fingerprint/gone_crate-0123456789abcdef ] \
  || fail "an artifact of a crate outside the dependency graph came back from the cache"
./target/debug/regcache-e2e | grep -q cargo-e2e || fail "the restored binary does not run"

# Change Cargo.lock: a new key, and restore falls back on the first entry.
# (a TOML comment: cargo keeps using the lockfile, the preset's hashFiles sees new bytes)
echo "# changed" >> Cargo.lock
key2=$(rc key --preset rust | head -n 1)
if [ -z "$key2" ] || [ "$key2" = "$key1" ]; then
  fail "the key did not change with Cargo.lock: '$key1' / '$key2'"
fi
rm -rf target
rc --json restore --preset rust > "$work/partial.json" || { cat "$work/partial.json"; fail "restore exited non-zero"; }
[ "$(field result "$work/partial.json")" = partial ] || fail "restore after the change: $(cat "$work/partial.json")"
[ "$(field key "$work/partial.json")" = "$key2" ] || fail "restore looked for another key: $(cat "$work/partial.json")"
[ "$(field matched_key "$work/partial.json")" = "$key1" ] || fail "partial restore matched another key: $(cat "$work/partial.json")"
ls target/debug/deps/libserde-*.rlib >/dev/null 2>&1 || fail "the partial restore did not bring target/ back"
ls target/release/deps/libserde-*.rlib >/dev/null 2>&1 || fail "the partial restore did not bring target/release back"

# This job builds debug only: the restored release units are not part of this build.
cargo build --offline 2> "$work/job2.log" || { cat "$work/job2.log"; fail "build after the partial restore"; }
# cargo drops the comment when it rewrites Cargo.lock; put it back so the key stays key2.
grep -q '^# changed' Cargo.lock || echo "# changed" >> Cargo.lock
[ "$(rc key --preset rust | head -n 1)" = "$key2" ] || fail "the key moved away from '$key2'"
rc --json save --preset rust > "$work/save2.json" || { cat "$work/save2.json"; fail "second save exited non-zero"; }
[ "$(field result "$work/save2.json")" = saved ] || fail "second save: $(cat "$work/save2.json")"
grep -q '^# changed' Cargo.lock || fail "save with the rust preset rewrote Cargo.lock"
rm -rf target
rc --json restore --preset rust > "$work/restore2.json" || { cat "$work/restore2.json"; fail "third restore exited non-zero"; }
[ "$(field result "$work/restore2.json")" = hit ] || fail "third restore: $(cat "$work/restore2.json")"
left=$(find target/release -path '*/.fingerprint/*' -o -path '*/deps/*' 2>/dev/null | head -3)
[ -z "$left" ] || fail "units of the release build, unused in this job, were saved again: $left"
cargo build --offline 2> "$work/job3.log" || { cat "$work/job3.log"; fail "build after the third restore"; }
compiled3=$(grep Compiling "$work/job3.log" || true)
if [ "$(printf '%s\n' "$compiled3" | grep -c .)" != 1 ] || ! printf '%s' "$compiled3" | grep -q "Compiling regcache-e2e"; then
  echo "FAIL: a unit this build used was left out of the cache:"; cat "$work/job3.log"; exit 1
fi

awk -v a="$t0" -v b="$t1" -v c="$p2" -v d="$p3" \
  'BEGIN { printf "cold build: %.1f s; plain restore + rebuild (nothing compiled): %.1f s\n", b - a, d - c }'
echo "plain save: $(cat "$work/plain-save.json")"
echo "plain restore: $(cat "$work/plain-restore.json")"
awk -v c="$t2" -v d="$t3" 'BEGIN { printf "preset restore + rebuild (the workspace crate compiled): %.1f s\n", d - c }'
echo "save: $(cat "$work/save.json")"
echo "restore: $(cat "$work/restore.json")"
echo "partial: $(cat "$work/partial.json")"
echo "save after a debug-only build: $(cat "$work/save2.json")"
echo "1 passed, 0 failed"
