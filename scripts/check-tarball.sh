#!/usr/bin/env bash
# The release tarball builds with no network:
#   1. `meson dist` (crates vendored by build-aux/dist-vendor.py) makes
#      gsend-VERSION.tar.xz from the committed tree (HEAD);
#   2. it is unpacked in a fresh temporary directory and built there with
#      cargo forbidden from the network (CARGO_NET_OFFLINE=true, an empty
#      CARGO_HOME): meson setup --prefix=/usr, compile, the quick test
#      setup (`meson test --setup quick`: suites c, examples, python,
#      consumer, setup; not the ~10-minute rest);
#   3. installed into a DESTDIR: the library carries no debug information,
#      the GIR names it by soname only (no path rewritten for /usr);
#   4. where a private mount namespace is possible (root, unshare), the
#      DESTDIR's /usr is laid over the system's and /usr/bin/python3 loads
#      GSend and sends datagrams with no environment variable at all.
#
# usage: scripts/check-tarball.sh BUILDDIR   (a configured build directory)
# Prints the tarball's size and the offline build's time. Set
# GSEND_KEEP_TARBALL_CHECK=1 to keep the temporary directory.
set -euo pipefail

builddir=$(cd "$1" && pwd)
fail() { echo "tarball check: FAIL: $*" >&2; exit 1; }

echo "== meson dist"
rm -rf "$builddir/meson-dist"
# --allow-dirty: the tarball is made from HEAD; uncommitted changes are not
# in it (meson says so).
meson dist -C "$builddir" --no-tests --formats xztar --allow-dirty
tarball=$(ls "$builddir"/meson-dist/gsend-*.tar.xz)
name=$(basename "$tarball" .tar.xz)
echo "  $(basename "$tarball"): $(stat -c %s "$tarball") bytes"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gsend-tarball.XXXXXX")
if [ -z "${GSEND_KEEP_TARBALL_CHECK:-}" ]; then
  trap 'rm -rf "$tmp"' EXIT
else
  echo "keeping $tmp"
fi
tar -C "$tmp" -xf "$tarball"
src=$tmp/$name
[ -d "$src/vendor" ] || fail "no vendor/ in the tarball"
grep -q 'directory = "vendor"' "$src/.cargo/config.toml" || fail ".cargo/config.toml does not use vendor/"

# Nothing cargo could use from this machine: no registry cache, no network.
export CARGO_HOME=$tmp/cargo-home CARGO_NET_OFFLINE=true
mkdir "$CARGO_HOME"
# Meson's test runner (when this runs as a test) exports variables meant
# for the outer build.
unset MESON_TEST_ITERATION MESONINTROSPECT

echo "== offline build of $name"
start=$(date +%s)
meson setup "$tmp/build" "$src" --prefix=/usr --buildtype=release >"$tmp/setup.log" 2>&1 \
  || { cat "$tmp/setup.log"; fail "meson setup"; }
meson compile -C "$tmp/build" >"$tmp/compile.log" 2>&1 \
  || { tail -50 "$tmp/compile.log"; fail "meson compile"; }
end=$(date +%s)
echo "  setup + compile: $((end - start)) s"
[ -z "$(ls -A "$CARGO_HOME/registry" 2>/dev/null)" ] || fail "cargo used a registry in CARGO_HOME"

echo "== quick test setup: suites c, examples, python, consumer, setup"
meson test -C "$tmp/build" --setup quick --print-errorlogs --num-processes 2 || fail "meson test"

echo "== install into a DESTDIR"
dest=$tmp/dest
DESTDIR=$dest meson install -C "$tmp/build" >"$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; fail "meson install"; }
libdir=$(cd "$tmp/build" && meson introspect --buildoptions | /usr/bin/python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "libdir"))')
case $libdir in /*) ;; *) libdir=/usr/$libdir ;; esac
lib=$dest$libdir/libgsend.so.1
[ -f "$lib" ] || fail "no $lib"
echo "  libgsend.so.1: $(stat -L -c %s "$lib") bytes"
if LC_ALL=C readelf -S "$lib" | grep -q '\.debug_info'; then fail "libgsend.so.1 carries debug information"; fi
gir=$dest/usr/share/gir-1.0/GSend-1.0.gir
grep -q 'shared-library="libgsend.so.1"' "$gir" || fail "the GIR for /usr does not name libgsend.so.1 by soname"
[ -f "$dest$libdir/girepository-1.0/GSend-1.0.typelib" ] || fail "no typelib"

echo "== Python with no environment variable (the install laid over /usr)"
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
  cat >"$tmp/use.py" <<'PY'
import socket
import gi
gi.require_version("GSend", "1.0")
from gi.repository import GLib, Gio, GSend
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
b.settimeout(5)
s = Gio.Socket.new_from_fd(a.detach())
n = GSend.socket_send_datagrams(s, None, [GLib.Bytes.new(b"one"), GLib.Bytes.new(b"two")], 0, -1, None)
assert n == 2 and b.recv(8) == b"one" and b.recv(8) == b"two", n
with open("/proc/self/maps") as f:
    print("  loaded", sorted({l.split()[-1] for l in f if "libgsend" in l}))
PY
  mkdir "$tmp/upper" "$tmp/work"
  cp -a "$dest/usr/." "$tmp/upper/"
  rc=0
  # shellcheck disable=SC2016
  unshare -m sh -c 'mount --make-rprivate / && mount -t overlay overlay -o "lowerdir=$1:/usr" /usr || exit 99
    exec env -i /usr/bin/python3 "$2"' sh "$tmp/upper" "$tmp/use.py" || rc=$?
  case $rc in
    0) ;;
    99) echo "  skipped (this machine cannot mount an overlay on /usr)" ;;
    *) fail "python3 could not use GSend installed in /usr without environment variables" ;;
  esac
else
  echo "  skipped (needs root and unshare for a private /usr)"
fi
echo "tarball check: ok"
