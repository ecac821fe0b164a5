#!/bin/sh
# Runs one fuzz target for a while on its committed seed corpus: new inputs go to a
# throw-away directory (the committed corpus is never modified), crashes to a fresh
# directory under ARTIFACT_ROOT, which is kept (and named) only when something was found.
# Usage: run_fuzzer.sh FUZZER CORPUS_DIR SECONDS ARTIFACT_ROOT [libFuzzer flags...]
set -eu
fuzzer=$1 corpus=$2 seconds=$3 root=$4
shift 4
name=$(basename "$fuzzer")
mkdir -p "$root"
work=$(mktemp -d "${TMPDIR:-/tmp}/regcache-$name-corpus.XXXXXX")
artifacts=$(mktemp -d "$root/$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
rc=0
"$fuzzer" -max_total_time="$seconds" -timeout=20 -error_exitcode=1 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$@" "$work" "$corpus" || rc=$?
if [ "$rc" -eq 0 ]; then
  rmdir "$artifacts"
else
  echo "run_fuzzer.sh: $name failed (exit $rc); crashing input(s) kept in $artifacts:" >&2
  ls -l "$artifacts" >&2
fi
exit "$rc"
