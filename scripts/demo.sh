#!/bin/sh
# The main job on the embedded default: save a sample directory into the default local
# store (oci:$XDG_CACHE_HOME/regcache, else ~/.cache/regcache), delete it, restore it,
# check it came back identical, and print the summaries.
set -eu
REGCACHE=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p sample/src sample/empty
i=0
while [ $i -lt 200 ]; do
  printf 'file %d\n%s\n' $i "$(seq 1 $((i * 10)))" > sample/src/file$i.txt
  i=$((i + 1))
done
ln -s src/file1.txt sample/link
seq 1 700000 > sample/numbers.txt
# Fixed mtimes make the sample byte-identical on every run, so repeated demos reuse the
# same blobs instead of growing the store.
find sample -exec touch -h -d "2024-01-01 00:00:00" {} +
find sample -exec stat -c '%n %F %a %s %Y' {} + | sort > before.txt
key="regcache-demo"
echo "== regcache save --force --key $key sample"
"$REGCACHE" save --force --key "$key" sample
rm -rf sample
echo "== regcache restore --key $key"
"$REGCACHE" restore --key "$key"
find sample -exec stat -c '%n %F %a %s %Y' {} + | sort > after.txt
if cmp -s before.txt after.txt; then
  echo "== restored tree is identical to the saved one ($(wc -l < after.txt) entries)"
else
  echo "== restored tree differs:" >&2
  diff before.txt after.txt >&2 || true
  exit 1
fi
echo "== regcache list --prefix regcache-demo"
"$REGCACHE" list --prefix regcache-demo
