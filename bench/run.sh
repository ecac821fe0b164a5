#!/bin/bash
# bench/run.sh [--quick]: the one command that builds the benchmark corpora and runs
# regcache and every baseline side by side on the same loopback registry, then writes
# docs/benchmarks.md (bench/report.py) and prints the ratios.
#
#   --quick   small corpora, a smoke test of the whole pipeline (about 3 minutes)
#   --corpora-only   build (or reuse) the corpora and stop (bench/wan.sh uses them)
#   default   full corpora (see bench/README.md for the sizes and the run time)
#
# Environment: REGCACHE (binary, default build/regcache), BENCH_BIG_COUNT, BENCH_BIG_MIB,
# BENCH_SMALL_SIZES (space-separated file counts, or "none") override the corpus sizes;
# BENCH_ENTRY_SIZES (entry counts, or "none") the many-entries repositories.
# BENCH_ROUNDS (default 3) the rounds of the saves and restores compared with the baselines.
#
# Everything it makes stays under bench/out/ (gitignored): corpora/ (kept and reused by the
# next run), services/ (the registry, fresh each run), work/ (scratch), logs/,
# results.tsv and meta.tsv. A full run writes docs/benchmarks.md and nothing else outside
# bench/out/; a quick run writes its report to bench/out/benchmarks-quick.md.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
# The command named in the report: `make bench` sets BENCH_COMMAND.
CMDLINE=${BENCH_COMMAND:-"bench/run.sh${*:+ $*}"}
MODE=full
CORPORA_ONLY=no
for arg in "$@"; do
  case $arg in
    --quick) MODE=quick ;;
    --corpora-only) CORPORA_ONLY=yes ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument: $arg (usage: bench/run.sh [--quick] [--corpora-only])" >&2; exit 2 ;;
  esac
done

if [ "$MODE" = quick ]; then
  BIG_COUNT=${BENCH_BIG_COUNT:-2} BIG_MIB=${BENCH_BIG_MIB:-16}
  SMALL_SIZES=${BENCH_SMALL_SIZES:-"1000 10000"}
  ENTRY_SIZES=${BENCH_ENTRY_SIZES:-"100 1000"}
else
  BIG_COUNT=${BENCH_BIG_COUNT:-8} BIG_MIB=${BENCH_BIG_MIB:-256}
  SMALL_SIZES=${BENCH_SMALL_SIZES:-"10000 100000 1000000"}
  ENTRY_SIZES=${BENCH_ENTRY_SIZES:-"100 1000 10000"}
fi
[ "$ENTRY_SIZES" = none ] && ENTRY_SIZES=""  # BENCH_ENTRY_SIZES=none: no many-entries step
[ "$SMALL_SIZES" = none ] && SMALL_SIZES=""  # BENCH_SMALL_SIZES=none: no small-file corpora

OUT=$HERE/out
CORP=$OUT/corpora
WORK=$OUT/work
SVC=$OUT/services
LOGS=$OUT/logs
RESULTS=$OUT/results.tsv
META=$OUT/meta.tsv
PY=/usr/bin/python3
TREE="$PY $HERE/tree.py"
# A quick run is a smoke test: its report stays in bench/out, docs/ keeps the full run's.
# BENCH_REPORT (relative to the checkout) names another report: make bench-static's.
REPORT_MD=$ROOT/${BENCH_REPORT:-docs/benchmarks.md}
[ "$MODE" = quick ] && REPORT_MD=$OUT/benchmarks-quick.md

die() { echo "run.sh: error: $*" >&2; exit 1; }
say() { echo "== $*"; }

# ---------------------------------------------------------------- dependencies
check_deps() {
  if [ ! -x /usr/bin/time ]; then
    # GNU time (Debian package "time") gives wall, user, sys and peak RSS of one command.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing Debian's 'time' package for /usr/bin/time"
      apt-get install -y time >/dev/null || die "apt-get install -y time failed"
    else
      die "/usr/bin/time missing: apt-get install time"
    fi
  fi
  local missing=()
  for tool in tar gzip zstd curl jq sha256sum cp cargo npm docker-registry; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ -x "$PY" ] || missing+=("$PY")
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (Debian: tar gzip zstd curl jq coreutils cargo npm docker-registry python3)"
  [ -d /usr/share/cargo/registry ] || die "/usr/share/cargo/registry missing: install Debian's librust-serde-dev, librust-regex-dev, librust-rand-dev, librust-rayon-dev, librust-env-logger-dev, librust-serde-json-dev"
  [ -x "${REGCACHE:-$ROOT/build/regcache}" ] || die "regcache binary not found: build it first (make build) or set REGCACHE"
}

# ---------------------------------------------------------------- corpora
# Each corpus is a workspace directory CORP/NAME holding one tree (its relative path is
# the second field); a marker file with a stamp of the recipe says it is complete.
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
is_built() { [ -f "$1/.bench-complete" ] && [ "$(cat "$1/.bench-complete")" = "$2" ]; }
mark_built() { echo "$2" > "$1/.bench-complete"; }

build_cargo() {
  local ws=$CORP/cargo stamp
  stamp=$(stamp_of "$HERE/corpus/cargo/Cargo.toml" "$HERE/corpus/cargo/src/main.rs")
  is_built "$ws" "$stamp" && { say "corpus cargo: reusing $ws/target"; return; }
  say "corpus cargo: cargo build --offline (about a minute on 2 cores)"
  rm -rf "$ws"; mkdir -p "$ws/.cargo"
  cp -r "$HERE/corpus/cargo/Cargo.toml" "$HERE/corpus/cargo/src" "$ws/"
  cat > "$ws/.cargo/config.toml" <<'CFG'
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "/usr/share/cargo/registry"
CFG
  # rustup's toolchains stay where they are; cargo's own state goes under bench/out.
  ( [ -z "${RUSTUP_HOME:-}" ] && [ -d "$HOME/.rustup" ] && export RUSTUP_HOME=$HOME/.rustup
    export CARGO_HOME=$OUT/cargo-home
    unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR RUSTFLAGS
    cd "$ws" && cargo build --offline ) > "$LOGS/cargo-build.log" 2>&1 \
    || { tail -30 "$LOGS/cargo-build.log"; die "cargo build failed (log: $LOGS/cargo-build.log)"; }
  "$ws/target/debug/regcache-bench-corpus" >/dev/null || die "the cargo corpus binary does not run"
  mark_built "$ws" "$stamp"
}

build_node() {
  local ws=$CORP/node stamp
  stamp=$(stamp_of "$HERE/corpus/node/package.json" "$HERE/corpus/node/package-lock.json")
  is_built "$ws" "$stamp" && { say "corpus node: reusing $ws/node_modules"; return; }
  say "corpus node: npm ci from the committed lockfile"
  rm -rf "$ws"; mkdir -p "$ws"
  cp "$HERE/corpus/node/package.json" "$HERE/corpus/node/package-lock.json" "$ws/"
  if ! ( cd "$ws" && npm ci --no-audit --no-fund --prefer-offline --cache "$OUT/npm-cache" ) \
    > "$LOGS/npm-ci.log" 2>&1; then
    tail -30 "$LOGS/npm-ci.log"
    if grep -qE 'ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENETUNREACH|network' "$LOGS/npm-ci.log"; then
      die "the node corpus needs the npm registry ($(npm config get registry)) once, for npm ci of bench/corpus/node; it cannot be reached from here (later runs reuse $ws)"
    fi
    die "npm ci failed (log: $LOGS/npm-ci.log)"
  fi
  mark_built "$ws" "$stamp"
}

build_big() {
  local ws=$CORP/$1 i
  is_built "$ws" "v1" && { say "corpus $1: reusing $ws/data"; return; }
  say "corpus $1: $BIG_COUNT files of $BIG_MIB MiB of random bytes"
  rm -rf "$ws"; mkdir -p "$ws/data"
  for ((i = 0; i < BIG_COUNT; i++)); do
    head -c "${BIG_MIB}M" /dev/urandom > "$ws/data/blob-$i.bin"
  done
  mark_built "$ws" "v1"
}

build_small() {
  local ws=$CORP/$1 n=$2
  is_built "$ws" "v1" && { say "corpus $1: reusing $ws/files"; return; }
  say "corpus $1: $n small files"
  rm -rf "$ws"; mkdir -p "$ws"
  $TREE gen-small "$ws/files" "$n"
  mark_built "$ws" "v1"
}

# ---------------------------------------------------------------- measuring
# measure NAME CMD...: runs CMD under GNU time; sets T_WALL T_CPU T_RSS (KiB) and leaves
# CMD's stdout in $LOGS/NAME.out. Any failure stops the run.
measure() {
  local name=$1; shift
  sync  # earlier writes reach the disk outside the measured time
  local reg0; reg0=$(registry_ticks)
  if ! /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.out" "$@" > "$LOGS/$name.out" 2> "$LOGS/$name.err"; then
    tail -20 "$LOGS/$name.err" >&2
    die "$name failed: $* (logs: $LOGS/$name.{out,err})"
  fi
  local user sys
  read -r T_WALL user sys T_RSS < <(tail -1 "$WORK/time.out")
  T_CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  T_REG=$(awk -v a="$reg0" -v b="$(registry_ticks)" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }')
}

# registry_ticks: CPU time (user + system, in clock ticks) the registry process used so far.
registry_ticks() { awk '{ print $14 + $15 }' "/proc/$REG_PID/stat"; }

# record CORPUS TOOL OP UP DOWN NOTE: appends the last measurement to results.tsv.
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$T_WALL" "$T_CPU" "$T_RSS" \
    "$4" "$5" "$C_FILES" "$C_BYTES" "${6:-}" "$T_REG" >> "$RESULTS"
  awk -v c="$1" -v t="$2" -v o="$3" -v w="$T_WALL" -v cpu="$T_CPU" -v m="$T_RSS" -v u="$4" -v d="$5" -v n="${6:-}" \
    -v r="$T_REG" 'BEGIN { printf "   %-14s %-9s %-15s %8.2f s  cpu %7.2f s  registry cpu %6.2f s  peak %6.0f MiB", c, t, o, w, cpu, r, m / 1024;
             if (u != "") printf "  up %9.1f MiB", u / 1048576;
             if (d != "") printf "  down %9.1f MiB", d / 1048576;
             if (n != "") printf "  (%s)", n; printf "\n" }'
}

json_field() { jq -r ".$2" "$1"; }

expect_json() {  # FILE FIELD VALUE
  local got; got=$(json_field "$1" "$2")
  [ "$got" = "$3" ] || die "$1: expected $2=$3, got $2=$got: $(cat "$1")"
}

verify() {  # ORIG COPY ns|s LABEL
  local msg
  msg=$($TREE verify "$1" "$2" --mtime "$3") || die "$4: the restored tree differs from the original (see above)"
  echo "     verified $4: $msg"
}

# Plain-registry helpers for the baselines, exported so that the timed `bash -c` sees them.
# upload FILE REPO: hashes FILE (docker push hashes too) and pushes it as one blob
# (POST an upload session, then one monolithic PUT with the digest); writes FILE.digest.
upload() {
  local file=$1 repo=$2 digest loc sep
  digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
  loc=$(curl -sSf -o /dev/null -D - -X POST "http://$REG/v2/$repo/blobs/uploads/" \
        | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  [ -n "$loc" ] || { echo "upload: no Location header" >&2; return 1; }
  case $loc in http*) ;; *) loc="http://$REG$loc" ;; esac
  case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
  curl -sSf -o /dev/null -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    -T "$file" "$loc${sep}digest=$digest"
  echo "$digest" > "$file.digest"
}
blob_url() { echo "http://$REG/v2/$1/blobs/$2"; }
export -f upload blob_url

# ---------------------------------------------------------------- one corpus
C_FILES=0 C_BYTES=0

corpus_stats() {  # WS TREE
  read -r C_FILES C_BYTES < <($TREE stats "$1/$2")
}

fresh_dir() { rm -rf "$1"; mkdir -p "$1"; }

# drop_tree DIR: deletes a restored tree inside a corpus (only the big files' trees: keeping
# 12 of 2 GiB would need 24 GiB of disk), then waits until the memory its page cache held
# is cold again. On a VM with free page reporting (the machine of docs/benchmarks.md),
# memory the guest frees goes back to the host within 2-3 s, and writing into memory the
# host must back again costs about 2.8 s of system time per GiB, against 0.28 s into memory
# freed a moment before (dd of 1 GiB, measured 12-02). Without the wait, the step after a
# deletion wrote its files up to 10x faster than one after a kept tree: cp -a of cargo's
# tree took 0.09 s against 0.67 s. With it, every step writes into cold memory, as a job
# on a new runner does.
drop_tree() {
  rm -rf "$1"; sync
  sleep 8
}

# Restored trees stay until the run ends (except the big files', see drop_tree). On ext4
# without a journal (this machine's) the inode allocator skips an inode freed less than 60 s
# ago, or 360 s while its inode table block is dirty, which it is again as soon as a new
# file takes a neighbour; and it looks for a free inode from the start of the group every
# time, so each file a step creates costs a check of every such inode. A restore of
# node_modules after one rm -rf of another copy took 4-8 s of system time (0.5 s without),
# and waiting 36 s between corpora, as earlier runs did, was not enough. Trees left by an
# interrupted run are deleted before measuring, then the run waits for their inodes to age.
TRASH=()
empty_trash() {
  [ ${#TRASH[@]} -eq 0 ] && return 0
  rm -rf "${TRASH[@]}"; TRASH=(); sync
  say "deleted the trees of an interrupted run; waiting 65 s for their inodes to age (see empty_trash)"
  sleep 65
}

# need_space GIB: stops the run unless bench/out's filesystem has GIB GiB free (the trees
# the run keeps until it ends).
need_space() {
  local free_kib
  free_kib=$(df -Pk "$OUT" | awk 'NR == 2 { print $4 }')
  [ "$free_kib" -ge $(( $1 << 20 )) ] \
    || die "bench/out's filesystem has $(( free_kib >> 20 )) GiB free; the run keeps every restored tree until it ends and needs $1 GiB"
}

# Rounds: the saves (cold: each round into new repositories) and the restores of every
# tool run BENCH_ROUNDS times (default 3), the tools in a rotated order each round, and the
# report takes each tool's round with the median wall time. One measurement of a 0.6 s step
# on a 2-core machine moves by 10-30% with whatever ran just before it (page cache, the
# registry's garbage, inodes freed by an earlier step), which decided some targets alone.
# The saves of a corpus over 1 GiB run once: its 2021 save takes minutes.
ROUNDS=${BENCH_ROUNDS:-3}
declare -A ROUND_ROWS=()
# round_keep STEP: remembers the last measurement as one round of STEP.
round_keep() { ROUND_ROWS[$1]+="$T_WALL $T_CPU $T_RSS $T_REG"$'\n'; }
# round_median STEP: sets T_* to STEP's round with the median wall time, ROUND_NOTE to the
# rounds' walls (empty for a single round), and forgets STEP.
round_median() {
  local rows n walls
  rows=$(printf '%s' "${ROUND_ROWS[$1]}" | sort -g -k1,1)
  n=$(wc -l <<< "$rows")
  read -r T_WALL T_CPU T_RSS T_REG < <(sed -n "$(( (n + 1) / 2 ))p" <<< "$rows")
  walls=$(printf '%s' "${ROUND_ROWS[$1]}" | awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }')
  ROUND_NOTE=""; [ "$n" -gt 1 ] && ROUND_NOTE="median of $n rounds: $walls s"
  unset "ROUND_ROWS[$1]"
}
# rotated R WORD...: the words, the first R-1 of them moved to the end.
rotated() { local r=$1; shift; local k=$(( (r - 1) % $# )); echo "${@:k+1}" "${@:1:k}"; }
# joined A B: "A; B", or whichever is not empty.
joined() { if [ -n "$1" ] && [ -n "$2" ]; then echo "$1; $2"; else echo "$1$2"; fi; }

# bench_main NAME TREE: every tool and baseline on CORP/NAME/TREE.
bench_main() {
  local c=$1 tree=$2 ws=$CORP/$1 dest f digest up down base_note="" r tool suffix save_rounds=$ROUNDS drop=no
  local store=$REG/bench/${1,,}-regcache rc_up rc_layers
  local -A digest_of=() bytes_of=() save_script=(
    [tgz]='set -eo pipefail; tar -C "$1" -cpzf "$3" "$2"; upload "$3" "$4"'
    [zst]='set -eo pipefail; tar -C "$1" -cf - "$2" | zstd -T0 -3 -q -o "$3"; upload "$3" "$4"')
  corpus_stats "$ws" "$tree"
  say "$c: $tree, $C_FILES files, $(awk -v b="$C_BYTES" 'BEGIN { printf "%.1f MiB", b / 1048576 }')"
  $TREE warm "$ws/$tree"
  [ "$C_BYTES" -gt $((1 << 30)) ] && { save_rounds=1; drop=yes; }

  # Saves. The 2021 workaround: tar -cpzf, then one PUT. The hand pipeline: tar | zstd -T0
  # -3, then one PUT. regcache: a cold save into a new repository. Round 1 makes the
  # entries and blobs every later step uses; later rounds save into repositories of their own.
  for ((r = 1; r <= save_rounds; r++)); do
    suffix=""; [ "$r" -gt 1 ] && suffix=-r$r
    for tool in $(rotated "$r" tgz zst rc); do
      case $tool in
        tgz|zst)
          f=$WORK/$c.$tool; rm -f "$f" "$f.digest"
          measure "$c-$tool-save$suffix" bash -c "${save_script[$tool]}" _ \
            "$ws" "$tree" "$f" "bench/${c,,}-$tool$suffix"
          round_keep "$tool-save"
          [ "$r" = 1 ] && { digest_of[$tool]=$(cat "$f.digest"); bytes_of[$tool]=$(stat -c %s "$f"); }
          rm -f "$f.digest"; if [ "$drop" = yes ]; then drop_tree "$f"; else rm -f "$f"; fi ;;
        rc)
          rm -f "$REGCACHE_STATE_FILE"
          measure "$c-rc-save-cold$suffix" bash -c 'cd "$1" && exec "$RC" --store "$2" --json --workspace "$1" save --key "$3" "$4"' _ \
            "$ws" "$store$suffix" "$c-k1" "$tree"
          expect_json "$LOGS/$c-rc-save-cold$suffix.out" result saved
          round_keep rc-save-cold
          [ "$r" = 1 ] && { rc_up=$(json_field "$LOGS/$c-rc-save-cold.out" uploaded_bytes); rc_layers=$(json_field "$LOGS/$c-rc-save-cold.out" layers); } ;;
      esac
    done
  done
  round_median tgz-save; record "$c" tar-gzip save "${bytes_of[tgz]}" "" "$ROUND_NOTE"
  round_median zst-save; record "$c" tar-zstd save "${bytes_of[zst]}" "" "$ROUND_NOTE"
  round_median rc-save-cold; record "$c" regcache save-cold "$rc_up" "" "$(joined "$rc_layers layers" "$ROUND_NOTE")"

  # Restores, each into a new directory, every one compared with the original. cp -a is the
  # floor; the 2021 workaround: one GET to a file, tar -xzf; the hand pipeline: GET | zstd -d
  # | tar -x; regcache: a restore of the cold entry into a new workspace. The trees stay
  # until the run ends (see empty_trash), except the big files', deleted as soon as
  # they are checked (see drop_tree).
  local rc_dest=""
  for ((r = 1; r <= ROUNDS; r++)); do
    for tool in $(rotated "$r" cp tgz zst rc); do
      dest=$WORK/${tool/#rc/regcache}/$c-r$r; fresh_dir "$dest"
      case $tool in
        cp)
          measure "$c-cp-restore-r$r" cp -a "$ws/$tree" "$dest/$tree"
          verify "$ws/$tree" "$dest/$tree" ns "cp -a" ;;
        tgz)
          f=$WORK/$c.tgz
          measure "$c-tgz-restore-r$r" bash -c 'set -eo pipefail; curl -sSfL -o "$3" "$(blob_url "$4" "$5")"; tar -C "$1" -xzf "$3"' _ \
            "$dest" "$tree" "$f" "bench/${c,,}-tgz" "${digest_of[tgz]}"
          rm -f "$f"
          verify "$ws/$tree" "$dest/$tree" s "tar-gzip" ;;
        zst)
          measure "$c-zst-restore-r$r" bash -c 'set -eo pipefail; curl -sSfL "$(blob_url "$2" "$3")" | zstd -d -q | tar -C "$1" -xf -' _ \
            "$dest" "bench/${c,,}-zst" "${digest_of[zst]}"
          verify "$ws/$tree" "$dest/$tree" s "tar-zstd" ;;
        rc)
          measure "$c-rc-restore-r$r" bash -c 'cd "$1" && exec "$RC" --store "$2" --json --workspace "$1" restore --key "$3"' _ \
            "$dest" "$store" "$c-k1"
          expect_json "$LOGS/$c-rc-restore-r$r.out" result hit
          down=$(json_field "$LOGS/$c-rc-restore-r$r.out" downloaded_bytes)
          verify "$ws/$tree" "$dest/$tree" ns "regcache"
          rc_dest=$dest ;;
      esac
      round_keep "$tool-restore"
      if [ "$drop" = yes ] && [ "$tool" != rc ]; then drop_tree "$dest"; fi
    done
    # The last regcache restore's tree stays for the save after it (below); an earlier
    # one of the big files goes now.
    if [ "$drop" = yes ] && [ "$r" -lt "$ROUNDS" ]; then drop_tree "$rc_dest"; fi
  done
  round_median cp-restore; record "$c" cp restore "" "" "$ROUND_NOTE"
  round_median tgz-restore; record "$c" tar-gzip restore "" "${bytes_of[tgz]}" "$ROUND_NOTE"
  round_median zst-restore; record "$c" tar-zstd restore "" "${bytes_of[zst]}" "$ROUND_NOTE"
  round_median rc-restore; record "$c" regcache restore "" "$down" "$ROUND_NOTE"
  dest=$rc_dest

  local base_k1=()
  if [ "$HAS_BASE" = yes ]; then base_k1=(--base "$c-k1");
  else base_note="no --base: base from the restore state file"; fi
  measure "$c-rc-save-unchanged" bash -c 'cd "$1" && shift && exec "$RC" "$@"' _ "$ws" \
    --store "$store" --json --workspace "$ws" save --key "$c-k2" "${base_k1[@]}" "$tree"
  expect_json "$LOGS/$c-rc-save-unchanged.out" result saved
  record "$c" regcache save-unchanged "$(json_field "$LOGS/$c-rc-save-unchanged.out" uploaded_bytes)" "" \
    "$(json_field "$LOGS/$c-rc-save-unchanged.out" reused_layers)/$(json_field "$LOGS/$c-rc-save-unchanged.out" layers) layers reused; $(json_field "$LOGS/$c-rc-save-unchanged.out" unread_files) files not read (file records of the cold save)${base_note:+; $base_note}"

  # A job's flow on a fresh runner: the save at its end, on the tree its restore wrote
  # (unchanged here), its base from the restore state file, with the records the restore left.
  local after=$LOGS/$c-rc-save-after-restore.out
  measure "$c-rc-save-after-restore" bash -c 'cd "$1" && shift && exec "$RC" "$@"' _ "$dest" \
    --store "$store" --json --workspace "$dest" save --key "$c-kr" "$tree"
  expect_json "$after" result saved
  record "$c" regcache save-after-restore "$(json_field "$after" uploaded_bytes)" "" \
    "$(json_field "$after" reused_layers)/$(json_field "$after" layers) layers reused; $(json_field "$after" unread_files) files not read (file records of the restore)"

  save_changed "$c" "$tree" "$store" spread "$c-k3" "$c-k2" save-1pct
  save_changed "$c" "$tree" "$store" clustered "$c-k4" "$c-k2" save-1pct-clustered
}

# save_changed CORPUS TREE STORE spread|clustered KEY BASE OP: changes 1% of the files,
# saves KEY (--base BASE), and puts the files back as they were.
save_changed() {
  local c=$1 tree=$2 store=$3 how=$4 key=$5 base=$6 op=$7 ws=$CORP/$1 changed n_changed n_total b_changed
  local base_args=() base_note="" log=$c-rc-$7
  if [ "$HAS_BASE" = yes ]; then base_args=(--base "$base"); else base_note="; no --base: base from the restore state file"; fi
  changed=$($TREE mutate "$ws/$tree" 1 "$UNDO" "$how")   # "CHANGED TOTAL CHANGED_BYTES"
  measure "$log" bash -c 'cd "$1" && shift && exec "$RC" "$@"' _ "$ws" \
    --store "$store" --json --workspace "$ws" save --key "$key" "${base_args[@]}" "$tree"
  $TREE unmutate "$UNDO"
  expect_json "$LOGS/$log.out" result saved
  read -r n_changed n_total b_changed <<< "$changed"
  record "$c" regcache "$op" "$(json_field "$LOGS/$log.out" uploaded_bytes)" "" \
    "$how: $n_changed of $n_total files changed ($(awk -v a="$b_changed" -v b="$C_BYTES" 'BEGIN { printf "%.1f%%", 100 * a / b }') of the bytes); $(json_field "$LOGS/$log.out" reused_layers)/$(json_field "$LOGS/$log.out" layers) layers reused$base_note"
}

# bench_stack CORPUS TREE: saves that each change another 1% of the files (spread) on the
# one before, until the entry carries as many delta layers as a save stacks (8,
# docs/format.md) or the next save compacts (then that change is put back and the entry
# before it is the one measured); then the same tree saved compacted (REGCACHE_DELTAS=0);
# then the two entries restored three times each, alternating. The changed files are put
# back after.
bench_stack() {
  local c=$1 tree=$2 ws=$CORP/$1 store=$REG/bench/${1,,}-regcache prev=$1-k2 key j dest round up=0 n=""
  [ "$HAS_BASE" = yes ] || { say "$c: no --base, no delta stack"; return 0; }
  corpus_stats "$ws" "$tree"
  for j in 1 2 3 4 5 6 7 8; do
    key=$c-stack$j
    $TREE mutate "$ws/$tree" 1 "$UNDO.$j" "spread+$j" > /dev/null
    measure "$c-rc-stack-$j" bash -c 'cd "$1" && shift && exec "$RC" "$@"' _ "$ws" \
      --store "$store" --json --workspace "$ws" save --key "$key" --base "$prev" "$tree"
    expect_json "$LOGS/$c-rc-stack-$j.out" result saved
    if [ "$(delta_layers "$store" "$key")" = 0 ]; then $TREE unmutate "$UNDO.$j"; break; fi
    up=$(( up + $(json_field "$LOGS/$c-rc-stack-$j.out" uploaded_bytes) ))
    prev=$key n=$j
  done
  [ -n "$n" ] || { say "$c: the first 1% change compacts; no delta stack to measure"; return 0; }
  local deltas; deltas=$(delta_layers "$store" "$prev")
  record "$c" regcache save-stack "$up" "" "deltas=$deltas: $n saves, each changing another 1% of the files (spread) on the one before; the last has $(json_field "$LOGS/$c-rc-stack-$n.out" layers) layers, $deltas of them deltas; bytes: all $n saves"
  measure "$c-rc-save-compacted" bash -c 'cd "$1" && shift && REGCACHE_DELTAS=0 exec "$RC" "$@"' _ "$ws" \
    --store "$store" --json --workspace "$ws" save --key "$c-compacted" --base "$prev" "$tree"
  expect_json "$LOGS/$c-rc-save-compacted.out" result saved
  record "$c" regcache save-compacted "$(json_field "$LOGS/$c-rc-save-compacted.out" uploaded_bytes)" "" \
    "the same tree, REGCACHE_DELTAS=0 (--base the last): $(json_field "$LOGS/$c-rc-save-compacted.out" layers) layers"
  for round in 1 2 3; do
    for key in "$prev" "$c-compacted"; do
      local op=restore-deltas; [ "$key" = "$prev" ] || op=restore-compacted
      dest=$WORK/regcache/$c-$op-$round; fresh_dir "$dest"
      measure "$c-rc-$op-$round" bash -c 'cd "$1" && exec "$RC" --store "$2" --json --workspace "$1" restore --key "$3"' _ \
        "$dest" "$store" "$key"
      expect_json "$LOGS/$c-rc-$op-$round.out" result hit
      record "$c" regcache "$op" "" "$(json_field "$LOGS/$c-rc-$op-$round.out" downloaded_bytes)" "round $round"
      verify "$ws/$tree" "$dest/$tree" ns "regcache $op"
    done
  done
  for j in 8 7 6 5 4 3 2 1; do [ -f "$UNDO.$j" ] && $TREE unmutate "$UNDO.$j"; done
  return 0
}

# delta_layers STORE KEY: how many delta layers the entry tagged KEY carries.
delta_layers() {
  curl -sSf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://${1%%/*}/v2/${1#*/}/manifests/$2" \
    | jq '[.layers[] | select(.annotations["dev.regcache.pack.delta"] == "true")] | length'
}

# bench_entries: repositories with many entries (bench/entries.py), on a registry of their
# own whose access log counts the requests (logging every request would cost the other
# steps' registry CPU).
bench_entries() {
  say "repositories with many entries: $ENTRY_SIZES"
  "$PY" "$ROOT/tests/harness/services.py" start --dir "$SVC_ENTRIES" --access-log \
    > "$LOGS/services-entries.log" 2>&1 \
    || { cat "$LOGS/services-entries.log"; die "could not start the many-entries registry"; }
  local reg
  reg=$(. "$SVC_ENTRIES/services.env" && echo "$REG_OPEN")
  "$PY" "$HERE/entries.py" --registry "$reg" --log "$SVC_ENTRIES/open.log" --regcache "$RC" \
    --sizes "$ENTRY_SIZES" --work "$WORK/entries" --out "$OUT/entries.tsv" \
    || die "the many-entries step failed"
  "$PY" "$ROOT/tests/harness/services.py" stop --dir "$SVC_ENTRIES" || true
}

# bench_small NAME: the linearity curve: regcache save and restore, and cp -a.
bench_small() {
  local c=$1 tree=files ws=$CORP/$1 dest store=$REG/bench/${1,,}-regcache
  corpus_stats "$ws" "$tree"
  say "$c: $C_FILES small files"
  $TREE warm "$ws/$tree"
  # cp -a for scale; not compared with the original (that would double the run's longest step).
  dest=$WORK/cp/$c; fresh_dir "$dest"
  measure "$c-cp-restore" cp -a "$ws/$tree" "$dest/$tree"
  record "$c" cp restore "" ""

  rm -f "$REGCACHE_STATE_FILE"
  measure "$c-rc-save-cold" bash -c 'cd "$1" && exec "$RC" --store "$2" --json --workspace "$1" save --key "$3" "$4"' _ \
    "$ws" "$store" "$c-k1" "$tree"
  expect_json "$LOGS/$c-rc-save-cold.out" result saved
  record "$c" regcache save-cold "$(json_field "$LOGS/$c-rc-save-cold.out" uploaded_bytes)" "" "$(json_field "$LOGS/$c-rc-save-cold.out" layers) layers"
  dest=$WORK/regcache/$c; fresh_dir "$dest"
  measure "$c-rc-restore" bash -c 'cd "$1" && exec "$RC" --store "$2" --json --workspace "$1" restore --key "$3"' _ \
    "$dest" "$store" "$c-k1"
  expect_json "$LOGS/$c-rc-restore.out" result hit
  record "$c" regcache restore "" "$(json_field "$LOGS/$c-rc-restore.out" downloaded_bytes)"
  verify "$ws/$tree" "$dest/$tree" ns "regcache"
}

# ---------------------------------------------------------------- main
check_deps
mkdir -p "$CORP" "$WORK" "$LOGS"
UNDO=$OUT/mutation-undo.json
# A run killed in the middle of the 1% step leaves its undo record: put the corpus back.
[ -f "$UNDO" ] && { echo "undoing an interrupted 1% mutation"; $TREE unmutate "$UNDO"; }

# A private copy of the binary, so that a rebuild during the run cannot mix two versions.
export RC=$OUT/bin/regcache
mkdir -p "$OUT/bin"; cp "${REGCACHE:-$ROOT/build/regcache}" "$RC"
if "$RC" save --help 2>/dev/null | grep -q -- '--base'; then HAS_BASE=yes; else HAS_BASE=no; fi
export REGCACHE_STATE_FILE=$WORK/regcache-state.json
unset REGCACHE_STORE REGCACHE_USERNAME REGCACHE_PASSWORD

started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
BIG=big-${BIG_COUNT}x${BIG_MIB}M

say "building corpora in $CORP ($MODE mode)"
build_cargo
build_node
build_big "$BIG"
for n in $SMALL_SIZES; do build_small "small-$n" "$n"; done
for d in "$WORK"/{cp,tgz,zst,regcache}; do [ -e "$d" ] && TRASH+=("$d"); done
empty_trash  # trees an interrupted run left behind
corpora_done=$(date +%s)
[ "$CORPORA_ONLY" = yes ] && { say "corpora ready in $CORP"; exit 0; }
if [ "$MODE" = full ]; then need_space 24; else need_space 2; fi

# A fresh registry for every run, so that a cold save really is cold.
SVC_ENTRIES=$OUT/services-entries
cleanup() {
  local rc=$?
  [ -f "$UNDO" ] && $TREE unmutate "$UNDO"
  local u
  for u in "$UNDO".{8,7,6,5,4,3,2,1}; do [ -f "$u" ] && $TREE unmutate "$u"; done
  for d in "$SVC" "$SVC_ENTRIES"; do
    if [ -f "$d/pids" ]; then "$PY" "$ROOT/tests/harness/services.py" stop --dir "$d" || true; fi
  done
  if [ $rc -eq 0 ]; then rm -rf "$SVC" "$SVC_ENTRIES" "$WORK"/{cp,tgz,zst,regcache,entries}; else echo "run.sh: FAILED; registry log: $SVC/open.log, logs: $LOGS" >&2; fi
}
trap cleanup EXIT
if [ -f "$SVC/pids" ]; then "$PY" "$ROOT/tests/harness/services.py" stop --dir "$SVC" || true; fi
rm -rf "$SVC"
"$PY" "$ROOT/tests/harness/services.py" start --dir "$SVC" > "$LOGS/services.log" 2>&1 \
  || { cat "$LOGS/services.log"; die "could not start the test registry"; }
REG=$(. "$SVC/services.env" && echo "$REG_OPEN")
REG_PID=$(awk '$1 == "open" { print $2 }' "$SVC/pids")
CLK_TCK=$(getconf CLK_TCK)
[ -r "/proc/$REG_PID/stat" ] || die "cannot find the registry process (pid '$REG_PID')"
export REG

printf 'corpus\ttool\top\twall_s\tcpu_s\tpeak_kib\tup_bytes\tdown_bytes\tfiles\ttree_bytes\tnote\tregistry_cpu_s\n' > "$RESULTS"
say "measuring against the registry at $REG (regcache: $("$RC" --version), --base: $HAS_BASE)"
bench_main cargo target; bench_stack cargo target
bench_main node node_modules; bench_stack node node_modules
bench_main "$BIG" data
for n in $SMALL_SIZES; do bench_small "small-$n"; done
rm -f "$OUT/entries.tsv"
[ -n "$ENTRY_SIZES" ] && bench_entries

finished=$(date +%s) elapsed=$(( $(date +%s) - started ))
{
  printf 'mode\t%s\n' "$MODE"
  printf 'command\t%s\n' "$CMDLINE"
  printf 'date\t%s\n' "$start_date"
  printf 'elapsed_s\t%s\n' "$elapsed"
  printf 'corpora_s\t%s\n' "$(( corpora_done - started ))"
  printf 'measure_s\t%s\n' "$(( finished - corpora_done ))"
  printf 'regcache\t%s (%s, sha256 %s)\n' "$("$RC" --version)" \
    "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" "$(sha256sum "$RC" | cut -c1-12)"
  printf 'has_base\t%s\n' "$HAS_BASE"
  printf 'rounds\t%s\n' "$ROUNDS"
  printf 'big\t%s files x %s MiB\n' "$BIG_COUNT" "$BIG_MIB"
  printf 'small_sizes\t%s\n' "$SMALL_SIZES"
  printf 'entry_sizes\t%s\n' "$ENTRY_SIZES"
  printf 'big_corpus\t%s\n' "$BIG"
  printf 'tools\t%s; %s; %s; %s; %s\n' "$(tar --version | head -1)" "$(gzip --version | head -1)" \
    "$(zstd --version | sed 's/^\*\*\* //; s/, by.*//')" "$(curl --version | head -1 | cut -d' ' -f1-2)" \
    "$(docker-registry --version 2>&1 | head -1 | awk '{print "docker-registry", $3}')"
  printf 'out_dir\t%s\n' "$OUT"
  printf 'load_start\t%s\n' "$load_start"
  printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$META"
"$PY" "$HERE/report.py" --results "$RESULTS" --meta "$META" --out "$REPORT_MD"
echo "wrote $REPORT_MD ($MODE run: $(( corpora_done - started )) s for the corpora, $(( finished - corpora_done )) s measuring)"
