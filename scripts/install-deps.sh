#!/bin/sh
# Installs the Debian packages regcache needs to build (and, with --test, to run its tests).
# Only packages that are missing are installed; nothing is downloaded from anywhere else.
set -eu
BUILD_PKGS="g++ cmake make pkg-config libcurl4-openssl-dev libzstd-dev zlib1g-dev libssl-dev
  libxxhash-dev nlohmann-json3-dev libcli11-dev libfmt-dev libgtest-dev"
TEST_PKGS="docker-registry skopeo apache2-utils python3 python3-jwt python3-cryptography
  zstd curl ccache librust-serde-dev librust-serde-json-dev librust-itoa-dev
  clang-14 libfuzzer-14-dev"
pkgs="$BUILD_PKGS"
[ "${1:-}" = "--test" ] && pkgs="$pkgs $TEST_PKGS"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# cargo: any cargo on PATH will do (rustup's or Debian's); install Debian's only when none.
if [ "${1:-}" = "--test" ] && ! command -v cargo >/dev/null 2>&1; then missing="$missing cargo"; fi
# node (the GitHub Action's tests, node --test): any node on PATH; else Debian's nodejs.
if [ "${1:-}" = "--test" ] && ! command -v node >/dev/null 2>&1; then missing="$missing nodejs"; fi
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
