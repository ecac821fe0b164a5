#!/bin/bash
# End to end for `--preset node`: a small npm project (node_project/, committed
# package-lock.json) installed online with `npm ci` into a private npm cache
# ($npm_config_cache, which the preset honours), the cache saved with the preset,
# node_modules and the npm cache wiped, the cache restored with the preset: `npm ci
# --offline` against an unusable registry must then install everything from the restored
# cache alone. A last check shows the same offline install fails without the cache.
set -euo pipefail
command -v npm >/dev/null || { echo "npm not installed: skipping"; exit 77; }
command -v node >/dev/null || { echo "node not installed: skipping"; exit 77; }
. "$REGCACHE_SERVICES_DIR/services.env"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$(dirname "$0")/node_project" "$work/proj"
rm -rf "$work/proj/node_modules"
# Nothing of the caller's npm setup leaks in (the real ~/.npmrc and ~/.npm are never read
# or written).
for v in $(compgen -e | grep -i '^npm_config_' || true); do unset "$v"; done
unset REGCACHE_STORE PNPM_STORE_DIR YARN_CACHE_FOLDER GITHUB_WORKSPACE CI_PROJECT_DIR \
  BUILDKITE_BUILD_CHECKOUT_PATH BITBUCKET_CLONE_DIR CIRCLE_WORKING_DIRECTORY DRONE_WORKSPACE
export HOME="$work/home" npm_config_cache="$work/npm-cache"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
  npm_config_fetch_retries=1 npm_config_fetch_timeout=60000
mkdir -p "$HOME"
cd "$work/proj"
store="$REG_OPEN/e2e/node-$RANDOM-$(date +%s%N)"
rc() { "$REGCACHE_BIN" --store "$store" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2"; }
now() { date +%s.%N; }
expected="node-e2e true true 7200000"
check_modules() {  # $1: when
  local p want got
  for p in is-number:7.0.0 is-odd:3.0.1 ms:2.1.3 is-odd/node_modules/is-number:6.0.0; do
    want=${p#*:}
    got=$(node -p "require('./node_modules/${p%%:*}/package.json').version" 2>/dev/null || true)
    [ "$got" = "$want" ] || fail "$1: node_modules/${p%%:*} is '${got:-missing}', want $want"
  done
  [ "$(node index.js)" = "$expected" ] || fail "$1: index.js prints '$(node index.js)', want '$expected'"
}

t0=$(now)
if ! timeout 600 npm ci > "$work/online.log" 2>&1; then
  if grep -Eq 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network|socket hang up|CERT|certificate' \
      "$work/online.log"; then
    echo "the npm registry is not reachable, skipping:"; tail -n 20 "$work/online.log"; exit 77
  fi
  cat "$work/online.log"; fail "the online npm ci failed"
fi
t1=$(now)
check_modules "after the online npm ci"
[ -d "$npm_config_cache/_cacache" ] || fail "npm ci did not fill $npm_config_cache"

key=$(rc key --preset node | head -n 1)
case "$key" in node-linux-*-[0-9a-f]*) ;; *) fail "unexpected node preset key '$key'" ;; esac
rc --json save --preset node > "$work/save.json" || { cat "$work/save.json"; fail "save exited non-zero"; }
[ "$(field result "$work/save.json")" = saved ] || fail "save: $(cat "$work/save.json")"
[ "$(field key "$work/save.json")" = "$key" ] \
  || fail "save used key '$(field key "$work/save.json")', 'regcache key' printed '$key'"

rm -rf node_modules "$npm_config_cache"

t2=$(now)
rc --json restore --preset node > "$work/restore.json" || { cat "$work/restore.json"; fail "restore exited non-zero"; }
[ "$(field result "$work/restore.json")" = hit ] || fail "restore: $(cat "$work/restore.json")"
[ -d "$npm_config_cache/_cacache" ] || fail "restore did not bring $npm_config_cache back"
# No network: a closed port as the registry, and --offline.
npm_config_registry=http://127.0.0.1:9 npm ci --offline > "$work/offline.log" 2>&1 \
  || { cat "$work/offline.log"; fail "npm ci --offline failed after the restore"; }
t3=$(now)
check_modules "after restore + npm ci --offline"

# Control: without the restored cache the same offline install must fail, so the pass
# above came from the cache.
rm -rf node_modules "$npm_config_cache"
if npm_config_registry=http://127.0.0.1:9 npm ci --offline > "$work/control.log" 2>&1; then
  cat "$work/control.log"; fail "npm ci --offline succeeded without any cache: the test proves nothing"
fi
grep -q ENOTCACHED "$work/control.log" \
  || { cat "$work/control.log"; fail "npm ci --offline without a cache failed, but not for want of the cache"; }

awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
  'BEGIN { printf "online npm ci: %.1f s; restore + offline npm ci: %.1f s\n", b - a, d - c }'
echo "save: $(cat "$work/save.json")"
echo "restore: $(cat "$work/restore.json")"
echo "1 passed, 0 failed"
