#!/usr/bin/env bash
# Builds and installs the C library of tcphub: libtcphub.so, libtcphub.a,
# tcphub.h and the pkg-config file tcphub.pc, so that
#
#   cc app.c $(pkg-config --cflags --libs tcphub)
#
# works. Settings (environment variables):
#   PREFIX      install root                      (default /usr/local)
#   LIBDIR      libraries and pkgconfig/          (default $PREFIX/lib)
#   INCLUDEDIR  the header                        (default $PREFIX/include)
#   PROFILE     cargo profile: release or debug   (default release)
#   DESTDIR     staging root prepended to every path, for packaging
#
#   sudo scripts/install-c.sh                     # /usr/local
#   PREFIX=$HOME/.local scripts/install-c.sh      # then export
#       PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig LD_LIBRARY_PATH=$HOME/.local/lib
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
PROFILE=${PROFILE:-release}
DESTDIR=${DESTDIR:-}

case "$PROFILE" in
    release) cargo build --release -p tcphub-ffi; out=release ;;
    debug) cargo build -p tcphub-ffi; out=debug ;;
    *) echo "install-c.sh: PROFILE must be release or debug" >&2; exit 2 ;;
esac
out="${CARGO_TARGET_DIR:-target}/$out"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

install -d "$DESTDIR$INCLUDEDIR" "$DESTDIR$LIBDIR/pkgconfig"
install -m 644 include/tcphub.h "$DESTDIR$INCLUDEDIR/tcphub.h"
install -m 755 "$out/libtcphub.so" "$DESTDIR$LIBDIR/libtcphub.so"
install -m 644 "$out/libtcphub.a" "$DESTDIR$LIBDIR/libtcphub.a"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@LIBDIR@|$LIBDIR|" -e "s|@INCLUDEDIR@|$INCLUDEDIR|" \
    -e "s|@VERSION@|$version|" ffi/tcphub.pc.in >"$DESTDIR$LIBDIR/pkgconfig/tcphub.pc"

# Refresh the dynamic linker's cache for a system-wide install.
if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then
    ldconfig "$LIBDIR" 2>/dev/null || ldconfig || true
fi
echo "installed tcphub $version: $DESTDIR$INCLUDEDIR/tcphub.h, $DESTDIR$LIBDIR/libtcphub.{so,a}, $DESTDIR$LIBDIR/pkgconfig/tcphub.pc"
