#!/bin/sh
# Builds the two static libraries a fully static regcache needs that Debian does not ship
# in a linkable form, from Debian's own source packages:
#  - libcurl: Debian's libcurl.a wants GSSAPI, LDAP, RTMP, SSH, PSL, IDN and HTTP/2
#    libraries that have no static archive; this one speaks HTTP and HTTPS only, over
#    OpenSSL, through proxies as curl always does, resolves names with c-ares (no glibc NSS
#    plug-ins), decodes gzip and zstd, has no compiled-in CA path (regcache finds the
#    bundle at run time) and none of the features regcache does not use (cookies, HSTS,
#    alt-svc, netrc, MIME, DoH);
#  - libfmt: Debian ships only the shared library.
# The sources come through `apt-get source` with a private apt state under OUT (the deb-src
# twins of the system's own entries), so no deb-src entry is added to the system.
# With --arch arm64 it cross-builds them with Debian's aarch64 cross compiler, and first
# unpacks Debian's arm64 -dev packages (OpenSSL, zstd, zlib, xxHash, c-ares, and the
# header-only JSON and CLI11) into OUT/sysroot through a private apt state for arm64: the
# same multiarch static archives, without adding a foreign architecture to the system.
# Usage: static-deps.sh OUT [--arch amd64|arm64]; writes OUT/prefix/{include,lib} (and
# OUT/sysroot for arm64). Reruns only when this recipe changes.
set -eu
usage() { echo "usage: static-deps.sh OUT [--arch amd64|arm64]" >&2; exit 2; }
[ $# -eq 1 ] || [ $# -eq 3 ] || usage
OUT=$(realpath -m "$1")
ARCH=amd64
if [ $# -eq 3 ]; then [ "$2" = "--arch" ] || usage; ARCH=$3; fi
case "$ARCH" in
  amd64) HOST=""; CC=gcc; CXX=g++ ;;
  arm64) HOST=aarch64-linux-gnu; CC=$HOST-gcc; CXX=$HOST-g++ ;;
  *) echo "static-deps: error: unsupported architecture: $ARCH (amd64 or arm64)" >&2; exit 2 ;;
esac
PREFIX="$OUT/prefix"
SYSROOT="$OUT/sysroot"
HERE=$(cd "$(dirname "$0")" && pwd)
STAMP="$PREFIX/.recipe"
RECIPE="$(sha256sum "$HERE/static-deps.sh" | cut -d' ' -f1) $ARCH"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ]; then exit 0; fi
JOBS=${JOBS:-$(nproc)}

# The architecture is named: make test runs the two builds side by side.
say() { echo "static-deps ($ARCH): $*"; }
die() { echo "static-deps ($ARCH): error: $*" >&2; exit 1; }

# apt-get with its lists and caches in the private state DIR (made afresh), which nothing
# else shares: the system's and the other architecture's build's are left alone.
# Usage: apt_in DIR [apt-get options and arguments].
apt_in() {
  dir=$1; shift
  apt-get -qq -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o Dir::Cache::Archives="$dir/archives" \
    -o APT::Sandbox::User="$(id -un)" -o Debug::NoLocking=1 "$@"
}
new_apt_state() { rm -rf "$1"; mkdir -p "$1/lists/partial" "$1/archives/partial" "$1/cache"; }

# A private apt state whose sources are the deb-src twins of the system's deb entries.
APT="$OUT/apt"
rm -rf "$OUT/src" "$OUT/curl-build" "$PREFIX" "$SYSROOT"
new_apt_state "$APT"
mkdir -p "$APT/sources.list.d" "$OUT/src" "$PREFIX/lib"
: > "$APT/sources.list"
[ -f /etc/apt/sources.list ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' /etc/apt/sources.list > "$APT/sources.list"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && sed 's/^Types:.*$/Types: deb-src/' "$f" > "$APT/sources.list.d/$(basename "$f")"
done
for f in /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f" > "$APT/sources.list.d/$(basename "$f")"
done
apt_private() {
  apt_in "$APT" -o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts="$APT/sources.list.d" "$@"
}
say "reading Debian's source package lists"
apt_private update || die "apt-get update of the deb-src lists failed (is Debian's archive reachable?)"
command -v "$CXX" > /dev/null || die "$CXX not found (scripts/install-deps.sh --static installs it)"
command -v ninja > /dev/null || die "ninja not found (scripts/install-deps.sh --static installs it)"

# The cross build's libraries: Debian's arm64 -dev packages unpacked into SYSROOT, without
# their shared libraries, so that only the static archives can be linked.
CROSS_FLAGS=""
if [ "$ARCH" != amd64 ]; then
  say "fetching Debian's $ARCH -dev packages"
  BIN="$OUT/apt-$ARCH"
  new_apt_state "$BIN"
  mkdir -p "$OUT/debs"
  apt_bin() {
    apt_in "$BIN" -o Dir::Etc::SourceList=/etc/apt/sources.list -o Dir::Etc::SourceParts=/etc/apt/sources.list.d \
      -o Dir::State::status=/dev/null -o APT::Architecture="$ARCH" -o APT::Architectures::="$ARCH" "$@"
  }
  apt_bin update || die "apt-get update of the $ARCH package lists failed (is Debian's archive reachable?)"
  rm -f "$OUT/debs"/*.deb
  (cd "$OUT/debs" && apt_bin download libssl-dev:$ARCH libzstd-dev:$ARCH zlib1g-dev:$ARCH \
    libxxhash-dev:$ARCH libc-ares-dev:$ARCH nlohmann-json3-dev libcli11-dev) \
    || die "apt-get download of the $ARCH -dev packages failed"
  for deb in "$OUT/debs"/*.deb; do dpkg-deb -x "$deb" "$SYSROOT"; done
  find "$SYSROOT" -name '*.so' -delete
  CROSS_FLAGS="-isystem $SYSROOT/usr/include -isystem $SYSROOT/usr/include/$HOST"
fi

say "fetching the sources of curl and fmt"
(cd "$OUT/src" && apt_private source --download-only curl fmtlib) || die "apt-get source curl fmtlib failed"
(cd "$OUT/src" && for dsc in curl_*.dsc fmtlib_*.dsc; do dpkg-source --no-check -q -x "$dsc" > /dev/null; done) \
  || die "dpkg-source could not unpack the sources"
CURL_SRC=$(find "$OUT/src" -maxdepth 1 -type d -name 'curl-*' | head -1)
FMT_SRC=$(find "$OUT/src" -maxdepth 1 -type d -name "fmtlib-*" | head -1)
[ -n "$CURL_SRC" ] && [ -n "$FMT_SRC" ] || die "unpacked sources not found under $OUT/src"

say "building libfmt.a from $(basename "$FMT_SRC")"
mkdir -p "$OUT/fmt-build"
for f in format os; do
  $CXX -std=c++20 -O2 -ffunction-sections -fdata-sections -I "$FMT_SRC/include" \
    -c "$FMT_SRC/src/$f.cc" -o "$OUT/fmt-build/$f.o"
done
${HOST:+$HOST-}ar rcs "$PREFIX/lib/libfmt.a" "$OUT/fmt-build/format.o" "$OUT/fmt-build/os.o"
cp -r "$FMT_SRC/include" "$PREFIX/"

say "building a minimal libcurl.a from $(basename "$CURL_SRC")"
# curl's own CMake build: it configures in a third of the time of its autoconf `configure`
# and compiles without libtool (one minute instead of two and a half on two cores). With
# Ninja, each of its 235 checks runs one build tool process instead of make's recursion:
# 40 s instead of 51 s to configure.
# Debian's patches change only the autotools files besides the sources, so the sources are
# Debian's exactly. What curl 7.88's CMake build does not carry into curl_config.h is given
# as definitions, as its configure would have set them: SSL_set0_wbio (OpenSSL 1.1.1 and
# later), no headers API, no easy-options API. A cross build cannot run curl's poll()
# probe; glibc's poll() is the one it would find fine. Sections per function let
# regcache's link drop the rest.
CURL_FLAGS="-O2 -ffunction-sections -fdata-sections -DHAVE_SSL_SET0_WBIO=1 -DCURL_DISABLE_HEADERS_API=1"
CURL_FLAGS="$CURL_FLAGS -DCURL_DISABLE_GETOPTIONS=1"
set --
if [ -n "$HOST" ]; then
  LIBDIR="$SYSROOT/usr/lib/$HOST"
  set -- -DCMAKE_TOOLCHAIN_FILE="$HERE/../cmake/aarch64-linux-gnu.cmake" -DHAVE_POLL_FINE=1 \
    -DCMAKE_EXE_LINKER_FLAGS="-L$LIBDIR" \
    -DOPENSSL_INCLUDE_DIR="$SYSROOT/usr/include" -DOPENSSL_SSL_LIBRARY="$LIBDIR/libssl.a" \
    -DOPENSSL_CRYPTO_LIBRARY="$LIBDIR/libcrypto.a" \
    -DZLIB_INCLUDE_DIR="$SYSROOT/usr/include" -DZLIB_LIBRARY="$LIBDIR/libz.a" \
    -DZstd_INCLUDE_DIR="$SYSROOT/usr/include" -DZstd_LIBRARY="$LIBDIR/libzstd.a" \
    -DCARES_INCLUDE_DIR="$SYSROOT/usr/include" -DCARES_LIBRARY="$LIBDIR/libcares.a"
  CURL_FLAGS="$CURL_FLAGS $CROSS_FLAGS"
  # pkg-config hints too come from the sysroot, never from the host's .pc files.
  export PKG_CONFIG_LIBDIR="$LIBDIR/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$SYSROOT"
fi
cmake -G Ninja -S "$CURL_SRC" -B "$OUT/curl-build" "$@" -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="$CURL_FLAGS" \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
  -DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DENABLE_MANUAL=OFF \
  -DPICKY_COMPILER=OFF -DCURL_USE_OPENSSL=ON -DENABLE_ARES=ON -DCURL_ZSTD=ON -DCURL_BROTLI=OFF \
  -DUSE_LIBIDN2=OFF -DCURL_USE_LIBPSL=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBSSH=OFF \
  -DCURL_USE_GSSAPI=OFF -DUSE_NGHTTP2=OFF -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none \
  -DCURL_CA_FALLBACK=OFF -DHTTP_ONLY=ON -DENABLE_UNIX_SOCKETS=OFF -DCURL_DISABLE_COOKIES=ON \
  -DCURL_DISABLE_ALTSVC=ON -DCURL_DISABLE_HSTS=ON -DCURL_DISABLE_NETRC=ON -DCURL_DISABLE_MIME=ON \
  -DCURL_DISABLE_DOH=ON -DCURL_DISABLE_PARSEDATE=ON -DCURL_DISABLE_LIBCURL_OPTION=ON \
  -DCURL_DISABLE_PROGRESS_METER=ON -DCURL_DISABLE_LDAP=ON -DCURL_DISABLE_LDAPS=ON \
  > "$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log" | sed "s/^/static-deps ($ARCH): /" >&2; die "curl's CMake configure failed"; }
# What regcache needs is in, and what the options above leave out stays out.
CONFIG_H="$OUT/curl-build/lib/curl_config.h"
for feature in USE_OPENSSL USE_ARES HAVE_ZSTD HAVE_LIBZ ENABLE_IPV6 HAVE_FCNTL_O_NONBLOCK \
  CURL_DISABLE_FTP CURL_DISABLE_LDAP CURL_DISABLE_COOKIES CURL_DISABLE_ALTSVC CURL_DISABLE_HSTS \
  CURL_DISABLE_NETRC CURL_DISABLE_MIME CURL_DISABLE_DOH; do
  grep -q "^#define $feature 1" "$CONFIG_H" || die "libcurl configured without $feature"
done
for feature in CURL_CA_BUNDLE CURL_CA_PATH USE_LIBSSH2 USE_LIBSSH USE_NGHTTP2 HAVE_LIBIDN2 \
  USE_LIBPSL HAVE_BROTLI USE_UNIX_SOCKETS USE_TLS_SRP HAVE_GSSAPI; do
  if grep -q "^#define $feature\b" "$CONFIG_H"; then die "libcurl configured with $feature"; fi
done
cmake --build "$OUT/curl-build" -j "$JOBS" > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" | sed "s/^/static-deps ($ARCH): /" >&2; die "building libcurl failed"; }
cmake --install "$OUT/curl-build" > /dev/null
# Only the archive and the headers are used; curl-config and the CMake and pkg-config files
# would name the host's shared libraries.
rm -rf "$PREFIX/bin" "$PREFIX/lib/cmake" "$PREFIX/lib/pkgconfig"
echo "$RECIPE" > "$STAMP"
say "done: $PREFIX"
