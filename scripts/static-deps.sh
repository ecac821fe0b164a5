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

say() { echo "static-deps: $*"; }
die() { echo "static-deps: error: $*" >&2; exit 1; }

# A private apt state whose sources are the deb-src twins of the system's deb entries.
APT="$OUT/apt"
rm -rf "$APT" "$OUT/src" "$PREFIX" "$SYSROOT"
mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/sources.list.d" "$OUT/src" "$PREFIX/lib"
: > "$APT/sources.list"
[ -f /etc/apt/sources.list ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' /etc/apt/sources.list > "$APT/sources.list"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && sed 's/^Types:.*$/Types: deb-src/' "$f" > "$APT/sources.list.d/$(basename "$f")"
done
for f in /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f" > "$APT/sources.list.d/$(basename "$f")"
done
apt_private() {
  apt-get -qq -o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts="$APT/sources.list.d" \
    -o Dir::State::Lists="$APT/lists" -o Dir::Cache::Archives="$APT/archives" \
    -o APT::Sandbox::User="$(id -un)" -o Debug::NoLocking=1 "$@"
}
say "reading Debian's source package lists"
apt_private update || die "apt-get update of the deb-src lists failed (is Debian's archive reachable?)"
command -v "$CXX" > /dev/null || die "$CXX not found (scripts/install-deps.sh --static installs it)"

# The cross build's libraries: Debian's arm64 -dev packages unpacked into SYSROOT, without
# their shared libraries, so that only the static archives can be linked.
CROSS_FLAGS=""
if [ "$ARCH" != amd64 ]; then
  say "fetching Debian's $ARCH -dev packages"
  BIN="$OUT/apt-$ARCH"
  rm -rf "$BIN"
  mkdir -p "$BIN/lists/partial" "$BIN/archives/partial" "$OUT/debs"
  apt_bin() {
    apt-get -qq -o Dir::Etc::SourceList=/etc/apt/sources.list -o Dir::Etc::SourceParts=/etc/apt/sources.list.d \
      -o Dir::State::Lists="$BIN/lists" -o Dir::Cache::Archives="$BIN/archives" -o Dir::State::status=/dev/null \
      -o APT::Architecture="$ARCH" -o APT::Architectures::="$ARCH" \
      -o APT::Sandbox::User="$(id -un)" -o Debug::NoLocking=1 "$@"
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
cd "$CURL_SRC"
# Debian's series ends with the patches that make its GnuTLS and NSS flavours (they rename
# the library); its own OpenSSL build takes them back out, and so does this one.
for p in $(tail -2 debian/patches/series | tac); do
  case "$p" in *gnutls*|*nss*) patch -s -R -p1 < "debian/patches/$p" ;; *) die "unexpected last patches in curl's series: $p" ;; esac
done
# Debian's patches may touch configure.ac and the Makefile.am files: regenerate the build
# files so that make does not try to (autoreconf comes with autoconf, automake, libtool).
autoreconf -fi > "$OUT/autoreconf.log" 2>&1 || { tail -20 "$OUT/autoreconf.log"; die "autoreconf failed"; }
CONFIGURE_HOST=""
if [ -n "$HOST" ]; then
  CONFIGURE_HOST="--host=$HOST"
  export CC CPPFLAGS="$CROSS_FLAGS" LDFLAGS="-L$SYSROOT/usr/lib/$HOST"
  export PKG_CONFIG_LIBDIR="$SYSROOT/usr/lib/$HOST/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$SYSROOT"
fi
./configure $CONFIGURE_HOST --prefix="$PREFIX" --disable-shared --enable-static \
  --with-openssl --with-zlib --with-zstd --enable-ares \
  --without-brotli --without-libpsl --without-libidn2 --without-nghttp2 --without-nghttp3 \
  --without-ngtcp2 --without-librtmp --without-libssh2 --without-libssh --without-gssapi \
  --without-libgsasl --without-ca-bundle --without-ca-path --without-ca-fallback \
  --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
  --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
  --disable-ftp --disable-file --disable-manual --disable-ntlm-wb --disable-unix-sockets \
  --disable-cookies --disable-alt-svc --disable-hsts --disable-netrc --disable-mime --disable-doh \
  --disable-dateparse --disable-get-easy-options --disable-headers-api --disable-tls-srp \
  --disable-libcurl-option --disable-progress-meter \
  > "$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; die "curl's configure failed"; }
make -s -C lib -j "$JOBS" > "$OUT/make.log" 2>&1 || { tail -30 "$OUT/make.log"; die "building libcurl failed"; }
make -s -C lib install > /dev/null && make -s -C include install > /dev/null
echo "$RECIPE" > "$STAMP"
say "done: $PREFIX"
