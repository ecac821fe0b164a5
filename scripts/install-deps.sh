#!/bin/sh
# Installs the Debian packages regcache needs to build; with --test, also what its tests
# need (the static build's included); with --static, what `make static` needs to build the
# static binary (scripts/static-deps.sh); with --bench, what bench/run.sh needs (its cargo corpus builds offline against
# Debian's librust-*-dev crates). Only packages that are missing are installed; nothing is
# downloaded from anywhere else (the bench's npm corpus aside, which npm fetches itself).
set -eu
BUILD_PKGS="g++ cmake make pkg-config libcurl4-openssl-dev libzstd-dev zlib1g-dev libssl-dev
  libxxhash-dev nlohmann-json3-dev libcli11-dev libfmt-dev libgtest-dev"
TEST_PKGS="docker-registry skopeo umoci apache2-utils python3 python3-jwt python3-cryptography python3-yaml
  zstd curl ca-certificates openssl strace ccache librust-serde-dev librust-serde-json-dev librust-itoa-dev
  clang-14 libfuzzer-14-dev qemu-user-static"
# The static builds: c-ares's static archive, what fetches curl and fmt from Debian's
# source packages (apt-get source, dpkg-source; curl builds with CMake and Ninja), and the
# aarch64 cross compiler for the arm64 binary (whose tests run it under qemu-user-static).
STATIC_PKGS="libc-ares-dev dpkg-dev xz-utils binutils ninja-build g++-aarch64-linux-gnu"
# The crates of bench/corpus/cargo/Cargo.toml with the features it asks for (serde's derive,
# indexmap's serde-1, the default features of the others), named by the real packages that
# carry them.
BENCH_PKGS="time tar gzip zstd curl jq docker-registry python3
  librust-serde+serde-derive-dev librust-serde-json-dev librust-regex+default-dev
  librust-rand-dev librust-rayon-dev librust-env-logger+default-dev librust-log-dev
  librust-indexmap-dev librust-once-cell-dev librust-crossbeam-channel-dev"
mode="${1:-}"
case "$mode" in
  ""|--test|--static|--bench) ;;
  *) echo "install-deps.sh: unknown argument: $mode (usage: install-deps.sh [--test|--static|--bench])" >&2; exit 2 ;;
esac
pkgs="$BUILD_PKGS"
[ "$mode" = "--test" ] && pkgs="$pkgs $TEST_PKGS $STATIC_PKGS"
[ "$mode" = "--static" ] && pkgs="$pkgs $STATIC_PKGS"
[ "$mode" = "--bench" ] && pkgs="$pkgs $BENCH_PKGS"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# cargo: any cargo on PATH will do (rustup's or Debian's); install Debian's only when none.
if { [ "$mode" = "--test" ] || [ "$mode" = "--bench" ]; } && ! command -v cargo >/dev/null 2>&1; then missing="$missing cargo"; fi
# node (the GitHub Action's tests, node --test): any node on PATH; else Debian's nodejs.
if [ "$mode" = "--test" ] && ! command -v node >/dev/null 2>&1; then missing="$missing nodejs"; fi
# npm (the bench's node corpus): any npm on PATH; else Debian's.
if [ "$mode" = "--bench" ] && ! command -v npm >/dev/null 2>&1; then missing="$missing npm"; fi
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
