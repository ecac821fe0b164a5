#!/bin/sh
# Installs regcache from a release: downloads regcache-linux-ARCH.tar.gz and its .sha256,
# checks the SHA-256, and puts the binary at PREFIX/bin/regcache (atomically; no root
# needed, nothing written outside PREFIX/bin). Needs sh, curl or wget, sha256sum and tar,
# as busybox has them.
#
#   install.sh [--prefix DIR] [--version X.Y.Z] [--url BASE]
#
#   --prefix DIR     where bin/regcache goes (default: $HOME/.local)
#   --version X.Y.Z  the release to install (default: the latest)
#   --url BASE       the address of the directory that holds the release files (default:
#                    $REGCACHE_RELEASE_URL, else the GitHub release of $REGCACHE_REPO,
#                    OWNER/regcache)
set -eu

die() { echo "install.sh: $*" >&2; exit 1; }
usage() { echo "install.sh: $* (usage: install.sh [--prefix DIR] [--version X.Y.Z] [--url BASE])" >&2; exit 2; }

prefix="${HOME:-}/.local"
version=""
base="${REGCACHE_RELEASE_URL:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage "--prefix needs a directory"; prefix="$2"; shift 2 ;;
    --version) [ $# -ge 2 ] || usage "--version needs a version"; version="${2#v}"; shift 2 ;;
    --url) [ $# -ge 2 ] || usage "--url needs an address"; base="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage "unknown argument: $1" ;;
  esac
done
[ -n "$prefix" ] && [ "$prefix" != "/.local" ] || usage "no HOME: give --prefix"

case "$(uname -s)" in Linux) ;; *) die "regcache releases are for Linux, not $(uname -s)" ;; esac
arch=$(uname -m)
case "$arch" in
  x86_64|amd64) arch=x86_64 ;;
  aarch64|arm64) arch=aarch64 ;;
  *) die "no regcache release for $arch (x86_64 and aarch64 only); build one with make static" ;;
esac
asset="regcache-linux-$arch.tar.gz"

if [ -z "$base" ]; then
  [ -n "${REGCACHE_REPO:-}" ] || usage "set REGCACHE_REPO=OWNER/regcache or give --url"
  if [ -n "$version" ]; then base="https://github.com/$REGCACHE_REPO/releases/download/v$version"
  else base="https://github.com/$REGCACHE_REPO/releases/latest/download"; fi
fi
base="${base%/}"

# Fetches URL into FILE with curl or wget; fails with a message naming the URL.
fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1" 2>/dev/null || die "cannot download $1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" 2>/dev/null || die "cannot download $1"
  else
    die "neither curl nor wget is installed"
  fi
}

bindir="$prefix/bin"
mkdir -p "$bindir" || die "cannot create $bindir"
work=$(mktemp -d "$bindir/.regcache-install.XXXXXX") || die "cannot write in $bindir"
trap 'rm -rf "$work"' EXIT INT TERM

fetch "$base/$asset" "$work/$asset"
fetch "$base/$asset.sha256" "$work/$asset.sha256"
expected=$(sed -n 's/^\([0-9a-f]\{64\}\).*/\1/p' "$work/$asset.sha256" | head -1)
[ -n "$expected" ] || die "$asset.sha256 holds no SHA-256 digest"
actual=$(sha256sum "$work/$asset" | cut -d' ' -f1)
[ "$actual" = "$expected" ] || die "SHA-256 mismatch for $base/$asset: expected $expected, got $actual"

mkdir "$work/unpacked"
tar -xzf "$work/$asset" -C "$work/unpacked" || die "$asset is not a gzip tar archive"
[ -f "$work/unpacked/regcache" ] || die "$asset holds no file named regcache at its top level"
chmod 755 "$work/unpacked/regcache"
"$work/unpacked/regcache" --version >/dev/null 2>&1 || die "the downloaded regcache does not run on this machine"
mv -f "$work/unpacked/regcache" "$bindir/regcache"
echo "installed $("$bindir/regcache" --version) at $bindir/regcache"
case ":${PATH:-}:" in *":$bindir:"*) ;; *) echo "note: $bindir is not on PATH" ;; esac
