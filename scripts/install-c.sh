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
    release) profile_flag=--release ;;
    debug) profile_flag= ;;
    *) echo "install-c.sh: PROFILE must be release or debug" >&2; exit 2 ;;
esac
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

# The installed shared library carries a SONAME naming its ABI version, so
# programs linked against it keep loading the ABI they were built for when a
# later, incompatible version is installed beside it. Versions 0.x break it
# with every minor version (semver), 1.x and later with the major version:
#   libtcphub.so.0.1.0   the library, SONAME libtcphub.so.0.1
#   libtcphub.so.0.1  -> libtcphub.so.0.1.0   (what programs load)
#   libtcphub.so      -> libtcphub.so.0.1     (what -ltcphub links)
# It is built in its own target directory: the build tree's
# target/*/libtcphub.so has no SONAME, so `-Ltarget/release -ltcphub`
# keeps working without a symlink there.
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if [ "$major" = 0 ]; then abi="0.$minor"; else abi=$major; fi
real="libtcphub.so.$version"
soname="libtcphub.so.$abi"
target="${CARGO_TARGET_DIR:-target}/install"
link_args=()
[ "$(uname -s)" = Linux ] && link_args=(-- -C "link-arg=-Wl,-soname,$soname")
# shellcheck disable=SC2086 # an empty $profile_flag must vanish
CARGO_TARGET_DIR="$target" cargo rustc --locked $profile_flag -p tcphub-ffi --lib "${link_args[@]}"
out="$target/$PROFILE"

install -d "$DESTDIR$INCLUDEDIR" "$DESTDIR$LIBDIR/pkgconfig"
install -m 644 include/tcphub.h "$DESTDIR$INCLUDEDIR/tcphub.h"
install -m 755 "$out/libtcphub.so" "$DESTDIR$LIBDIR/$real"
ln -sfn "$real" "$DESTDIR$LIBDIR/$soname"
ln -sfn "$soname" "$DESTDIR$LIBDIR/libtcphub.so"
install -m 644 "$out/libtcphub.a" "$DESTDIR$LIBDIR/libtcphub.a"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@LIBDIR@|$LIBDIR|" -e "s|@INCLUDEDIR@|$INCLUDEDIR|" \
    -e "s|@VERSION@|$version|" ffi/tcphub.pc.in >"$DESTDIR$LIBDIR/pkgconfig/tcphub.pc"

# Refresh the dynamic linker's cache for a system-wide install.
if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then
    ldconfig "$LIBDIR" 2>/dev/null || ldconfig || true
fi
echo "installed tcphub $version: $DESTDIR$INCLUDEDIR/tcphub.h, $DESTDIR$LIBDIR/{$real,$soname,libtcphub.so,libtcphub.a}, $DESTDIR$LIBDIR/pkgconfig/tcphub.pc"
