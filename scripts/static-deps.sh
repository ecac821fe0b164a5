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
# Usage: static-deps.sh OUT; writes OUT/prefix/{include,lib}. Reruns only when this recipe
# changes.
set -eu
[ $# -eq 1 ] || { echo "usage: static-deps.sh OUT" >&2; exit 2; }
OUT=$(realpath -m "$1")
PREFIX="$OUT/prefix"
HERE=$(cd "$(dirname "$0")" && pwd)
STAMP="$PREFIX/.recipe"
RECIPE=$(sha256sum "$HERE/static-deps.sh" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ]; then exit 0; fi
JOBS=${JOBS:-$(nproc)}

say() { echo "static-deps: $*"; }
die() { echo "static-deps: error: $*" >&2; exit 1; }

# A private apt state whose sources are the deb-src twins of the system's deb entries.
APT="$OUT/apt"
rm -rf "$APT" "$OUT/src" "$PREFIX"
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
  g++ -std=c++20 -O2 -I "$FMT_SRC/include" -c "$FMT_SRC/src/$f.cc" -o "$OUT/fmt-build/$f.o"
done
ar rcs "$PREFIX/lib/libfmt.a" "$OUT/fmt-build/format.o" "$OUT/fmt-build/os.o"
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
./configure --prefix="$PREFIX" --disable-shared --enable-static \
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
