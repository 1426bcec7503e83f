#!/usr/bin/env bash
# Installs gsend into a temporary prefix and uses it from outside the source
# tree, as a user would:
#   1. meson setup (--prefix=<tmp>/prefix, tests off, reusing the cargo
#      target directory of the calling build so nothing is compiled twice),
#      meson install;
#   2. DESTDIR=<tmp>/stage meson install installs the same files under
#      <tmp>/stage<prefix>;
#   3. every artifact README's meson section lists is in the prefix (library with its
#      soname and link, preload library, header, .pc, GIR, typelib);
#   4. consumer.c, copied to a directory outside the tree, is compiled with
#      `pkg-config --cflags --libs gsend-1` only, and runs against the
#      prefix's libgsend.so.1;
#   5. /usr/bin/python3 loads GSend from the prefix with GI_TYPELIB_PATH
#      alone and sends datagrams.
#
# usage: run-consumer.sh SOURCE_ROOT CARGO_TARGET_DIR [PYTHON3]
# Set GSEND_KEEP_CONSUMER=1 to keep the temporary directory.
# INTROSPECTION=false (a build with -Dintrospection=disabled) leaves out the
# GIR, typelib and Python checks.
set -euo pipefail

src=$(cd "$1" && pwd)
cargo_target_dir=$2
python3=${3:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
meson=${MESON:-meson}
cc=${CC:-cc}
introspection=${INTROSPECTION:-true}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gsend-consumer.XXXXXX")
if [ -z "${GSEND_KEEP_CONSUMER:-}" ]; then
  trap 'rm -rf "$tmp"' EXIT
else
  echo "keeping $tmp"
fi
prefix=$tmp/prefix
fail() { echo "consumer test: FAIL: $*" >&2; exit 1; }

# Meson's test runner exports variables meant for the outer build.
unset MESON_TEST_ITERATION MESONINTROSPECT
echo "== meson setup / install into $prefix"
"$meson" setup "$tmp/build" "$src" --prefix="$prefix" -Dtests=false -Dintrospection="$([ "$introspection" = true ] && echo enabled || echo disabled)" \
  -Dcargo_target_dir="$cargo_target_dir" >"$tmp/setup.log" 2>&1 \
  || { cat "$tmp/setup.log"; fail "meson setup"; }
"$meson" install -C "$tmp/build" >"$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; fail "meson install"; }
libdir=$(cd "$tmp/build" && "$meson" introspect --buildoptions | "$python3" -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "libdir"))')
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
datadir=$prefix/share
includedir=$prefix/include

echo "== DESTDIR install"
DESTDIR="$tmp/stage" "$meson" install -C "$tmp/build" >"$tmp/destdir.log" 2>&1 \
  || { cat "$tmp/destdir.log"; fail "DESTDIR meson install"; }
diff <(cd "$prefix" && find . | sort) <(cd "$tmp/stage$prefix" && find . | sort) \
  || fail "DESTDIR install differs from the prefix install"
top=${prefix#/}; top=${top%%/*}
[ "$(ls -A "$tmp/stage")" = "$top" ] || fail "DESTDIR install wrote outside DESTDIR/prefix"

echo "== installed files"
files=("$libdir/libgsend.so.1" "$libdir/libgsend-preload.so"
       "$includedir/gsend-1/gsend.h" "$libdir/pkgconfig/gsend-1.pc")
if [ "$introspection" = true ]; then
  files+=("$datadir/gir-1.0/GSend-1.0.gir" "$libdir/girepository-1.0/GSend-1.0.typelib")
fi
for f in "${files[@]}"; do
  [ -f "$f" ] || fail "missing $f"
  echo "  ${f#"$prefix"/}"
done
[ -L "$libdir/libgsend.so" ] && [ "$(readlink "$libdir/libgsend.so")" = libgsend.so.1 ] \
  || fail "$libdir/libgsend.so is not a link to libgsend.so.1"
echo "  ${libdir#"$prefix"/}/libgsend.so -> libgsend.so.1"
soname=$(LC_ALL=C readelf -d "$libdir/libgsend.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libgsend.so.1 ] || fail "soname of libgsend.so.1 is '$soname'"
[ "$introspection" != true ] \
  || grep -q "shared-library=\"$libdir/libgsend.so.1\"" "$datadir/gir-1.0/GSend-1.0.gir" \
  || fail "the installed GIR does not name $libdir/libgsend.so.1"
# The library exports exactly the functions the installed header declares.
declared=$(grep -o '^[A-Za-z_][A-Za-z0-9_ *]* \**\(gsend_[a-z0-9_]*\)(' "$includedir/gsend-1/gsend.h" \
  | sed 's/.*\(gsend_[a-z0-9_]*\)(/\1/' | sort)
exported=$(nm -D --defined-only "$libdir/libgsend.so.1" | awk '{print $3}' | sort)
[ -n "$declared" ] || fail "no gsend_ function found in the installed header"
[ "$declared" = "$exported" ] \
  || fail "exports of libgsend.so.1 differ from gsend.h: $(diff <(echo "$declared") <(echo "$exported") | grep '^[<>]' | tr '\n' ' ')"
echo "  libgsend.so.1 exports the $(echo "$declared" | wc -l) functions of gsend.h, nothing else"

echo "== C consumer, compiled outside the tree with pkg-config"
mkdir "$tmp/consumer"
cp "$here/consumer.c" "$tmp/consumer/"
cd "$tmp/consumer"
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
flags=$(pkg-config --cflags --libs gsend-1) || fail "pkg-config gsend-1"
echo "  pkg-config --cflags --libs gsend-1: $flags"
[ "$(pkg-config --modversion gsend-1)" != "" ] || fail "no version in gsend-1.pc"
# shellcheck disable=SC2086
"$cc" -Wall -Werror -o consumer consumer.c $flags || fail "compiling consumer.c"
# The GLib of the calling build stays first in LD_LIBRARY_PATH after ours.
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ./consumer "$libdir/libgsend.so.1" || fail "the consumer failed"

if [ "$introspection" != true ]; then
  echo "consumer test: ok (introspection off: no GIR, typelib or Python checks)"
  exit 0
fi
echo "== Python from the prefix (GI_TYPELIB_PATH only)"
env -u LD_LIBRARY_PATH GI_TYPELIB_PATH="$libdir/girepository-1.0" "$python3" - "$libdir/libgsend.so.1" <<'PY' \
  || fail "Python could not use the installed GSend"
import os, socket, sys
import gi
gi.require_version("GSend", "1.0")
from gi.repository import GLib, Gio, GSend
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
b.settimeout(5)
s = Gio.Socket.new_from_fd(a.detach())
data = [b"one", b"", b"three"]
n = GSend.socket_send_datagrams(s, None, [GLib.Bytes.new(d) for d in data], 0, -1, None)
assert n == 3, n
got = [b.recv(16) for _ in data]
assert got == data, got
with open("/proc/self/maps") as f:
    libs = {l.split()[-1] for l in f if "libgsend" in l}
assert libs == {os.path.realpath(sys.argv[1])}, libs
print("  python: sent", n, "datagrams with", libs.pop())
PY
echo "consumer test: ok"
