#!/bin/bash
# bench/wan.sh [--quick]: regcache and the baselines through a wide-area link, side by side.
# A link emulator (tests/harness/link_emulator.py) sits between every client and the
# loopback registry. It delays each direction by half the round trip, caps each connection's
# rate and all connections' rate together (a runner's NIC), and makes a connection's set-up
# cost a round trip. Two profiles:
#   near: 10 ms round trip, 100 MB/s per connection, 500 MB/s in all
#   far:  80 ms round trip,  25 MB/s per connection, 200 MB/s in all
# For every operation it records wall time, bytes each way, requests, connections and the
# sequential round trips on the critical path, all read from the emulator's log, then
# writes docs/benchmarks-wan.md (bench/wan_report.py).
#
#   --quick   the node corpus and the one-file entry only, report in bench/out/wan-quick.md
#
# The registry is the test harness's TLS registry with Basic auth (tests/harness/services.py).
# Corpora come from bench/run.sh --corpora-only (cargo, node, one 100 MB file of random
# bytes), in bench/out/corpora/, built once. Environment: REGCACHE (binary), WAN_PROFILES
# (default "near far"), WAN_CORPORA.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CMDLINE=${BENCH_COMMAND:-"bench/wan.sh${*:+ $*}"}
MODE=full
for arg in "$@"; do
  case $arg in
    --quick) MODE=quick ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "wan.sh: unknown argument: $arg (usage: bench/wan.sh [--quick])" >&2; exit 2 ;;
  esac
done

OUT=$HERE/out
CORP=$OUT/corpora
WORK=$OUT/wan-work
SVC=$OUT/wan-services
LOGS=$OUT/wan-logs
RESULTS=$OUT/wan-results.tsv
META=$OUT/wan-meta.tsv
PY=/usr/bin/python3
TREE="$PY $HERE/tree.py"
EMU="$PY $ROOT/tests/harness/link_emulator.py"
REPORT_MD=$ROOT/docs/benchmarks-wan.md
[ "$MODE" = quick ] && REPORT_MD=$OUT/wan-quick.md
PROFILES=${WAN_PROFILES:-"near far"}
BIG=big-1x100M
if [ "$MODE" = quick ]; then CORPORA=${WAN_CORPORA:-"node"}; else CORPORA=${WAN_CORPORA:-"cargo node $BIG"}; fi

die() { echo "wan.sh: error: $*" >&2; exit 1; }
say() { echo "== $*"; }

profile_args() {  # PROFILE -> emulator settings
  case $1 in
    near) echo "--rtt-ms 10 --conn-mbps 100 --total-mbps 500" ;;
    far) echo "--rtt-ms 80 --conn-mbps 25 --total-mbps 200" ;;
    *) die "unknown profile $1" ;;
  esac
}

tree_of() { case $1 in cargo) echo target ;; node) echo node_modules ;; big-*) echo data ;; one) echo one ;; esac; }

# ---------------------------------------------------------------- the link
# link_start PROFILE NAME: an emulator in front of the registry; sets LINK (HOST:PORT).
# LINK_LISTEN and LINK_UPSTREAM, when set, say where it listens and what it fronts.
link_start() {
  local log=$LOGS/$2.link
  rm -f "$WORK/link.port" "$log"
  # shellcheck disable=SC2046
  $EMU serve --listen "${LINK_LISTEN:-127.0.0.1:0}" --upstream "${LINK_UPSTREAM:-$UPSTREAM}" $(profile_args "$1") --log "$log" \
    --port-file "$WORK/link.port" > "$LOGS/$2.link.err" 2>&1 &
  LINK_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do [ -s "$WORK/link.port" ] && break; sleep 0.05; done
  [ -s "$WORK/link.port" ] || die "the link emulator did not start (see $LOGS/$2.link.err)"
  LINK=127.0.0.1:$(cat "$WORK/link.port")
  # The emulator listens on a loopback address, where regcache would run only as many
  # transfers as it does for a layout; through the link it stands for a remote registry,
  # which gets 16 (kRegistryTransfers in src/regcache/cli/context.hpp).
  REMOTE_JOBS=16
  export LINK REMOTE_JOBS
}
link_stop() { kill -TERM "$LINK_PID" 2>/dev/null || true; wait "$LINK_PID" 2>/dev/null || true; }

# measure PROFILE CORPUS TOOL OP NOTE CMD...: runs CMD through a fresh link; records a row
# (with REPEAT=N set: N runs, each into a new destination, and the median row by wall time;
# restores only, since a second cold save would not be cold).
REPEAT=1
measure() {
  if [ "$REPEAT" -gt 1 ]; then
    local i a rows=() keep=$REPEAT old=$dest args; REPEAT=1
    for ((i = 0; i < keep; i++)); do
      [ "$i" -gt 0 ] && new_dest
      args=(); for a in "$@"; do [ "$a" = "$old" ] && a=$dest; args+=("$a"); done
      measure_once "${args[@]}"; rows+=("$LAST_ROW")
    done
    REPEAT=$keep
    printf '%s\n' "${rows[@]}" | sort -t $'\t' -k5,5 -g | sed -n "$(( (keep + 1) / 2 ))p" >> "$RESULTS"
    return
  fi
  measure_once "$@"; printf '%s\n' "$LAST_ROW" >> "$RESULTS"
}
measure_once() {
  local profile=$1 corpus=$2 tool=$3 op=$4 note=$5 name; shift 5
  name=$profile-$corpus-$tool-$op
  link_start "$profile" "$name"
  sync
  if ! /usr/bin/time -f '%e' -o "$WORK/time.out" "$@" > "$LOGS/$name.out" 2> "$LOGS/$name.err"; then
    link_stop; tail -20 "$LOGS/$name.err" >&2; die "$name failed: $*"
  fi
  link_stop
  local wall stats
  wall=$(tail -1 "$WORK/time.out")
  stats=$($EMU analyze "$LOGS/$name.link")
  LAST_ROW=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$profile" "$corpus" "$tool" "$op" "$wall" \
    "$(jq -r .bytes_up <<< "$stats")" "$(jq -r .bytes_down <<< "$stats")" "$(jq -r .requests <<< "$stats")" \
    "$(jq -r .connections <<< "$stats")" "$(jq -r .round_trips <<< "$stats")" "$note")
  printf '   %-5s %-12s %-9s %-18s %7.2f s  %s\n' "$profile" "$corpus" "$tool" "$op" "$wall" "$stats"
}

# The baselines' registry helpers (as in run.sh), over HTTPS with Basic credentials (sent
# up front, as a hand-written pipeline does), through $LINK.
# HAND_HTTP, when set, is a curl flag for the protocol (--http1.1); curl's default takes HTTP/2
# where the registry offers it, whose upload window paces a PUT (docs/decisions.md).
rcurl() { curl -sSf ${HAND_HTTP:+"$HAND_HTTP"} --cacert "$REGCACHE_CA_FILE" -u "$REGCACHE_USERNAME:$REGCACHE_PASSWORD" "$@"; }
upload() {
  local file=$1 repo=$2 digest loc sep
  digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
  loc=$(rcurl -o /dev/null -D - -X POST "https://$LINK/v2/$repo/blobs/uploads/" \
        | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  [ -n "$loc" ] || { echo "upload: no Location header" >&2; return 1; }
  case $loc in http*) loc="https://$LINK/${loc#http*://*/}" ;; *) loc="https://$LINK$loc" ;; esac
  case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
  rcurl -o /dev/null -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    -T "$file" "$loc${sep}digest=$digest"
  echo "$digest" > "$file.digest"
}
blob_url() { echo "https://$LINK/v2/$1/blobs/$2"; }
export -f rcurl upload blob_url

fresh_dir() { rm -rf "$1"; mkdir -p "$1"; }
# A new, empty destination for each restore, on tmpfs when there is one (WAN_DEST_ROOT):
# this run measures the link, and this machine's disk (ext4 with discard, slow inode
# allocation in block groups that earlier runs filled and emptied) adds seconds of noise to
# creating thousands of files, to every tool alike. Trees are deleted between corpora.
DEST_N=0
DEST_ROOT=${WAN_DEST_ROOT:-$( [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && echo /dev/shm/regcache-wan-$$ || echo "$WORK/dst" )}
new_dest() { DEST_N=$((DEST_N + 1)); dest=$DEST_ROOT/$DEST_N; fresh_dir "$dest"; TRASH+=("$dest"); }
TRASH=()
empty_trash() {
  [ ${#TRASH[@]} -eq 0 ] && return 0
  rm -rf "${TRASH[@]}"; TRASH=(); sync
  [ "$(stat -f -c %T "$DEST_ROOT")" = tmpfs ] && return 0
  sleep $(( $(cat /proc/sys/vm/dirty_expire_centisecs 2>/dev/null || echo 3000) / 100 + 6 ))
}
verify() { $TREE verify "$1" "$2" --mtime "$3" > /dev/null || die "$4: the restored tree differs"; }

# ---------------------------------------------------------------- one corpus
bench_corpus() {  # PROFILE CORPUS
  local p=$1 c=$2 tree ws f digest repo=bench/$1-${2,,} tier=$WORK/tier-$1-$2
  tree=$(tree_of "$c"); ws=$CORP/$c
  say "$p: $c ($tree)"

  f=$WORK/$c.tar.zst; rm -f "$f" "$f.digest"
  measure "$p" "$c" tar-zstd save "" bash -c 'set -eo pipefail; tar -C "$1" -cf - "$2" | zstd -T0 -3 -q -o "$3"; upload "$3" "$4"' _ \
    "$ws" "$tree" "$f" "$repo-zst"
  digest=$(cat "$f.digest"); rm -f "$f"
  # The same save with curl held to HTTP/1.1, as regcache speaks: the upload is then paced by
  # the link alone. Same bytes, same digest, another repository.
  measure "$p" "$c" tar-zstd-h1 save "" bash -c 'set -eo pipefail; tar -C "$1" -cf - "$2" | zstd -T0 -3 -q -o "$3"; HAND_HTTP=--http1.1 upload "$3" "$4"' _ \
    "$ws" "$tree" "$f" "$repo-zst-h1"
  new_dest
  REPEAT=3 measure "$p" "$c" tar-zstd restore "" bash -c 'set -eo pipefail; rcurl -L "$(blob_url "$2" "$3")" | zstd -d -q | tar -C "$1" -xf -' _ \
    "$dest" "$repo-zst" "$digest"
  verify "$ws/$tree" "$dest/$tree" s tar-zstd; rm -f "$f" "$f.digest"

  f=$WORK/$c.tgz; rm -f "$f" "$f.digest"
  measure "$p" "$c" tar-gzip save "" bash -c 'set -eo pipefail; tar -C "$1" -cpzf "$3" "$2"; upload "$3" "$4"' _ \
    "$ws" "$tree" "$f" "$repo-tgz"
  digest=$(cat "$f.digest"); new_dest
  REPEAT=3 measure "$p" "$c" tar-gzip restore "" bash -c 'set -eo pipefail; rcurl -L -o "$3" "$(blob_url "$2" "$4")"; tar -C "$1" -xzf "$3"' _ \
    "$dest" "$repo-tgz" "$f" "$digest"
  verify "$ws/$tree" "$dest/$tree" s tar-gzip; rm -f "$f" "$f.digest"

  rm -f "$REGCACHE_STATE_FILE"
  measure "$p" "$c" regcache save-cold "" bash -c 'cd "$1" && REGCACHE_JOBS=$REMOTE_JOBS exec "$RC" --store "$LINK/$2" --json --workspace "$1" save --key k1 "$3"' _ \
    "$ws" "$repo" "$tree"
  new_dest
  REPEAT=3 measure "$p" "$c" regcache restore "" bash -c 'cd "$1" && REGCACHE_JOBS=$REMOTE_JOBS exec "$RC" --store "$LINK/$2" --json --workspace "$1" restore --key k1' _ \
    "$dest" "$repo"
  verify "$ws/$tree" "$dest/$tree" ns regcache
  measure "$p" "$c" regcache save-unchanged "" bash -c 'cd "$1" && REGCACHE_JOBS=$REMOTE_JOBS exec "$RC" --store "$LINK/$2" --json --workspace "$1" save --key k2 --base k1 "$3"' _ \
    "$ws" "$repo" "$tree"

  # The local tier (--local-cache): a cold one fills, then a warm one serves every blob.
  rm -rf "$tier"; new_dest
  measure "$p" "$c" regcache restore-tier-cold "" bash -c 'cd "$1" && REGCACHE_JOBS=$REMOTE_JOBS exec "$RC" --store "$LINK/$2" --local-cache "$3" --json --workspace "$1" restore --key k1' _ \
    "$dest" "$repo" "$tier"
  new_dest
  REPEAT=3 measure "$p" "$c" regcache restore-tier-warm "" bash -c 'cd "$1" && REGCACHE_JOBS=$REMOTE_JOBS exec "$RC" --store "$LINK/$2" --local-cache "$3" --json --workspace "$1" restore --key k1' _ \
    "$dest" "$repo" "$tier"
  [ "$(jq -r .downloaded_bytes "$LOGS/$p-$c-regcache-restore-tier-warm.out")" = 0 ] \
    || die "$p $c: the warm local tier still downloaded blob bytes"
  verify "$ws/$tree" "$dest/$tree" ns "regcache (local tier)"
  # The floor under the warm tier: the same restore from its layout alone, no registry.
  new_dest
  REPEAT=3 measure "$p" "$c" regcache restore-layout "" bash -c 'cd "$1" && exec "$RC" --store "oci:$2" --json --workspace "$1" restore --key k1' _ \
    "$dest" "$tier"
  verify "$ws/$tree" "$dest/$tree" ns "regcache (the local tier's layout)"
  rm -rf "$tier"
}

bench_one_file() {  # PROFILE: a hit on a one-file entry
  local p=$1 ws=$WORK/one repo=bench/$1-one dest
  fresh_dir "$ws/one"; echo "one small file" > "$ws/one/file.txt"
  (cd "$ws" && REGCACHE_LOOPBACK_TRANSPORT=https "$RC" --store "$UPSTREAM/$repo" --workspace "$ws" save --key one one) > "$LOGS/one-save.log" 2>&1 \
    || { cat "$LOGS/one-save.log"; die "saving the one-file entry failed"; }
  new_dest
  REPEAT=3 measure "$p" one regcache restore-hit "" bash -c 'cd "$1" && REGCACHE_JOBS=$REMOTE_JOBS exec "$RC" --store "$LINK/$2" --json --workspace "$1" restore --key one' _ \
    "$dest" "$repo"
}

# A hit on a one-file entry in a token-auth registry whose token service shares its host,
# as ghcr.io's does: the fault proxy (tests/harness/fault_proxy.py) answers HTTPS behind the
# emulator's port and sends /token to the token server, the rest to the token registry,
# whose challenge names that port (services.py --token-realm).
bench_token_hit() {  # PROFILE
  local p=$1 ws=$WORK/one-token repo=bench/$1-one-token
  fresh_dir "$ws/one"; echo "one small file" > "$ws/one/file.txt"
  export LINK_LISTEN=127.0.0.1:$TOKEN_LINK_PORT LINK_UPSTREAM=$TOKEN_FRONT
  link_start "$p" "$p-one-token-save"
  (cd "$ws" && REGCACHE_USERNAME=$TOKEN_USERNAME REGCACHE_PASSWORD=$TOKEN_PASSWORD \
     REGCACHE_JOBS=$REMOTE_JOBS "$RC" --store "$LINK/$repo" --workspace "$ws" save --key one one) > "$LOGS/one-token-save.log" 2>&1 \
    || { link_stop; cat "$LOGS/one-token-save.log"; die "saving the one-file entry (token registry) failed"; }
  link_stop
  new_dest
  REPEAT=3 measure "$p" one regcache restore-hit-token "" bash -c 'cd "$1" && REGCACHE_USERNAME=$TOKEN_USERNAME REGCACHE_PASSWORD=$TOKEN_PASSWORD REGCACHE_JOBS=$REMOTE_JOBS exec "$RC" --store "$LINK/$2" --json --workspace "$1" restore --key one' _ \
    "$dest" "$repo"
  unset LINK_LISTEN LINK_UPSTREAM
}

# ---------------------------------------------------------------- main
for tool in tar gzip zstd curl jq sha256sum; do command -v "$tool" > /dev/null || die "missing tool: $tool"; done
[ -x /usr/bin/time ] || die "/usr/bin/time missing (Debian package time)"
[ -x "${REGCACHE:-$ROOT/build/regcache}" ] || die "regcache binary not found: make build, or set REGCACHE"
mkdir -p "$WORK" "$LOGS"
say "corpora (bench/run.sh --corpora-only)"
BENCH_BIG_COUNT=1 BENCH_BIG_MIB=100 BENCH_SMALL_SIZES=none "$HERE/run.sh" --corpora-only > "$LOGS/corpora.log" 2>&1 \
  || { tail -20 "$LOGS/corpora.log"; die "building the corpora failed"; }
export RC=$OUT/bin/regcache-wan
mkdir -p "$OUT/bin"; cp "${REGCACHE:-$ROOT/build/regcache}" "$RC"
export REGCACHE_STATE_FILE=$WORK/regcache-state.json
unset REGCACHE_STORE REGCACHE_LOCAL_CACHE REGCACHE_LOCAL_CACHE_MAX

cleanup() {
  local rc=$?
  [ -n "${LINK_PID:-}" ] && link_stop
  if [ -n "${FRONT_PID:-}" ]; then kill -TERM "$FRONT_PID" 2>/dev/null || true; wait "$FRONT_PID" 2>/dev/null || true; fi
  if [ -f "$SVC/pids" ]; then "$PY" "$ROOT/tests/harness/services.py" stop --dir "$SVC" > /dev/null 2>&1 || true; fi
  rm -rf "$DEST_ROOT"
  [ $rc -eq 0 ] && rm -rf "$WORK" "$SVC"
  [ $rc -eq 0 ] || echo "wan.sh: FAILED; logs in $LOGS" >&2
}
trap cleanup EXIT
rm -rf "$SVC"
# The token registry's challenge names the port an emulator will listen on, in front of
# the fault proxy that routes /token (bench_token_hit).
TOKEN_LINK_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" "$ROOT/tests/harness/services.py" start --dir "$SVC" --token-realm "https://127.0.0.1:$TOKEN_LINK_PORT/token" \
  > "$LOGS/services.log" 2>&1 || { cat "$LOGS/services.log"; die "could not start the test registry"; }
TOKEN_USERNAME=$(. "$SVC/services.env" && echo "$REG_TOKEN_USER")
TOKEN_PASSWORD=$(. "$SVC/services.env" && echo "$REG_TOKEN_PASSWORD")
export TOKEN_USERNAME TOKEN_PASSWORD
rm -f "$WORK/front.port"  # a failed run leaves its work directory, and its port, behind
"$PY" "$ROOT/tests/harness/fault_proxy.py" --upstream "$(. "$SVC/services.env" && echo "$REG_TOKEN")" \
  --route "/token=$(. "$SVC/services.env" && echo "$TOKEN_SERVER")" --public "127.0.0.1:$TOKEN_LINK_PORT" \
  --tls-cert "$SVC/basic/server.crt" --tls-key "$SVC/basic/server.key" > "$WORK/front.port" 2> "$LOGS/front.err" &
FRONT_PID=$!
for ((i = 0; i < 100; i++)); do [ -s "$WORK/front.port" ] && break; sleep 0.05; done
[ -s "$WORK/front.port" ] || die "the token registry's HTTPS front did not start (see $LOGS/front.err)"
TOKEN_FRONT=127.0.0.1:$(head -1 "$WORK/front.port")
# The TLS registry with Basic auth, as hosted registries are: HTTPS, credentials.
UPSTREAM=$(. "$SVC/services.env" && echo "$REG_BASIC")
REGCACHE_USERNAME=$(. "$SVC/services.env" && echo "$REG_BASIC_USER")
REGCACHE_PASSWORD=$(. "$SVC/services.env" && echo "$REG_BASIC_PASSWORD")
# The trust anchors as a runner has them: the system's bundle (about 140 certificates, which
# OpenSSL takes tens of milliseconds to parse) with the test CA appended, for every client.
REGCACHE_CA_FILE=$WORK/ca-bundle.pem
{ cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true; cat "$(. "$SVC/services.env" && echo "$REG_CA")"; } > "$REGCACHE_CA_FILE"
# The link emulator listens on loopback: say the registry speaks TLS instead of letting
# regcache probe (a real registry is not on loopback and is never probed).
export REGCACHE_USERNAME REGCACHE_PASSWORD REGCACHE_CA_FILE REGCACHE_LOOPBACK_TRANSPORT=https

start_date=$(date -u '+%Y-%m-%d %H:%M:%S UTC') started=$(date +%s)
printf 'profile\tcorpus\ttool\top\twall_s\tup_bytes\tdown_bytes\trequests\tconnections\tround_trips\tnote\n' > "$RESULTS"
say "accuracy of the link emulator (curl against its own settings)"
for p in $PROFILES; do
  # shellcheck disable=SC2046
  $EMU check $(profile_args "$p") > "$LOGS/check-$p.txt" 2>&1 || { cat "$LOGS/check-$p.txt"; die "the link emulator is off for $p"; }
  cat "$LOGS/check-$p.txt"
done
for p in $PROFILES; do
  bench_one_file "$p"
  bench_token_hit "$p"
  for c in $CORPORA; do bench_corpus "$p" "$c"; empty_trash; done
done
{
  printf 'mode\t%s\n' "$MODE"
  printf 'command\t%s\n' "$CMDLINE"
  printf 'date\t%s\n' "$start_date"
  printf 'elapsed_s\t%s\n' "$(( $(date +%s) - started ))"
  printf 'dest_root\t%s (%s)\n' "$DEST_ROOT" "$(stat -f -c %T "$DEST_ROOT" 2>/dev/null || echo ?)"
  printf 'regcache\t%s (%s)\n' "$("$RC" --version)" "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  printf 'machine\t%s cores, %s, %s\n' "$(nproc)" "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
} > "$META"
for p in $PROFILES; do cat "$LOGS/check-$p.txt"; done > "$OUT/wan-check.txt"
"$PY" "$HERE/wan_report.py" --results "$RESULTS" --meta "$META" --check "$OUT/wan-check.txt" --out "$REPORT_MD"
echo "wrote $REPORT_MD"
