#!/bin/bash
# End to end for `--preset ccache`: a generated C++ project (a header, 30 small sources
# and a main) compiled file by file with `ccache g++ -c` into a private CCACHE_DIR, the
# cache saved with the preset, CCACHE_DIR and the objects wiped, the cache restored with
# the preset: the rebuild must be served entirely from ccache (no miss). The preset's key
# ends in {{ now }} (one-second resolution), so after waiting past the saving second the
# restore must come through the restore key: "partial", matching the saved key.
set -euo pipefail
command -v ccache >/dev/null || { echo "ccache not installed: skipping"; exit 77; }
command -v g++ >/dev/null || { echo "g++ not installed: skipping"; exit 77; }
. "$REGCACHE_SERVICES_DIR/services.env"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Nothing of the caller's ccache setup leaks in; the real ~/.ccache and ~/.cache/ccache
# are never touched.
for v in $(compgen -e | grep '^CCACHE_' || true); do unset "$v"; done
unset REGCACHE_STORE GITHUB_WORKSPACE CI_PROJECT_DIR BUILDKITE_BUILD_CHECKOUT_PATH \
  BITBUCKET_CLONE_DIR CIRCLE_WORKING_DIRECTORY DRONE_WORKSPACE
export HOME="$work/home" CCACHE_DIR="$work/ccache" CCACHE_BASEDIR="$work/proj"
mkdir -p "$HOME" "$work/proj/include" "$work/proj/src"
cd "$work/proj"
store="$REG_OPEN/e2e/ccache-$RANDOM-$(date +%s%N)"
rc() { "$REGCACHE_BIN" --store "$store" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2"; }
stat_of() { ccache --print-stats | awk -v k="$1" '$1 == k { print $2 }'; }
now() { date +%s.%N; }

n=30
cat > include/util.hpp <<'HPP'
#pragma once
#include <cstdint>
#include <string>
#include <vector>
namespace e2e {
struct Item { std::string name; std::uint64_t value; };
inline std::uint64_t mix(std::uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; return x ^ (x >> 33); }
HPP
for i in $(seq -w 1 $n); do
  echo "std::uint64_t f$i(const std::vector<Item>& items);" >> include/util.hpp
  cat > "src/f$i.cpp" <<CPP
#include "util.hpp"
namespace e2e {
std::uint64_t f$i(const std::vector<Item>& items) {
  std::uint64_t h = ${i#0}u;
  for (const auto& it : items) h = mix(h + it.value + it.name.size() * $((10#$i * 7)));
  return h;
}
}  // namespace e2e
CPP
done
echo "}  // namespace e2e" >> include/util.hpp
{
  echo '#include "util.hpp"'
  echo '#include <cstdio>'
  echo 'int main() {'
  echo '  std::vector<e2e::Item> items{{"a", 1}, {"bb", 2}, {"ccc", 3}};'
  echo '  std::uint64_t h = 0;'
  for i in $(seq -w 1 $n); do echo "  h ^= e2e::f$i(items);"; done
  echo '  std::printf("ccache-e2e %llu\n", (unsigned long long)h);'
  echo '}'
} > src/main.cpp
sources=(src/*.cpp)
total=${#sources[@]}

build() {
  rm -rf obj && mkdir obj
  local s
  for s in "${sources[@]}"; do
    ccache g++ -O1 -Iinclude -c "$s" -o "obj/$(basename "$s" .cpp).o" || return 1
  done
  g++ obj/*.o -o app || return 1
}

ccache -z > /dev/null
t0=$(now)
build || fail "cold build"
t1=$(now)
[ "$(stat_of cache_miss)" = "$total" ] \
  || { ccache --print-stats; fail "the cold build should miss $total times, missed $(stat_of cache_miss)"; }
expected=$(./app)

rc --json save --preset ccache > "$work/save.json" || { cat "$work/save.json"; fail "save exited non-zero"; }
[ "$(field result "$work/save.json")" = saved ] || fail "save: $(cat "$work/save.json")"
saved_key=$(field key "$work/save.json")
case "$saved_key" in ccache-linux-*-2[0-9][0-9][0-9][01][0-9][0-3][0-9]T[0-2][0-9][0-5][0-9][0-5][0-9]Z) ;;
  *) fail "unexpected ccache preset key '$saved_key'" ;; esac

rm -rf "$CCACHE_DIR" obj app
sleep 1.1  # the next {{ now }} is another second: no exact hit, only the restore key

t2=$(now)
rc --json restore --preset ccache > "$work/restore.json" || { cat "$work/restore.json"; fail "restore exited non-zero"; }
[ "$(field result "$work/restore.json")" = partial ] || fail "restore (want partial): $(cat "$work/restore.json")"
[ "$(field key "$work/restore.json")" != "$saved_key" ] || fail "restore looked for the saved key again: $(cat "$work/restore.json")"
[ "$(field matched_key "$work/restore.json")" = "$saved_key" ] || fail "restore matched another key: $(cat "$work/restore.json")"
[ -d "$CCACHE_DIR" ] || fail "restore did not bring CCACHE_DIR back"
ccache -z > /dev/null
build || fail "build after restore"
t3=$(now)
hits=$(( $(stat_of direct_cache_hit) + $(stat_of preprocessed_cache_hit) ))
misses=$(stat_of cache_miss)
if [ "$misses" != 0 ] || [ "$hits" != "$total" ]; then
  ccache --print-stats; fail "the build after restore: $hits hits, $misses misses (want $total hits, 0 misses)"
fi
[ "$(./app)" = "$expected" ] || fail "the program built from cached objects prints '$(./app)', want '$expected'"

awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$total" \
  'BEGIN { printf "cold build (%d files): %.1f s; restore + rebuild: %.1f s\n", n, b - a, d - c }'
echo "rebuild: $(stat_of direct_cache_hit) direct hits, $(stat_of preprocessed_cache_hit) preprocessed hits, $misses misses"
echo "save: $(cat "$work/save.json")"
echo "restore: $(cat "$work/restore.json")"
echo "1 passed, 0 failed"
