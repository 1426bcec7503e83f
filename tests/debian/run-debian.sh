#!/usr/bin/env bash
# Builds gsend's Debian packages from the release tarball, installs them
# into this machine, uses them as a user of the distribution would, and
# removes them again (also when a step fails).
#
#   1. unpacks the tarball (made by `meson dist`) in a temporary directory
#      and runs `dpkg-buildpackage -us -uc -b` there (DEB_BUILD_OPTIONS
#      nocheck unless GSEND_DEBIAN_CHECK=1: the meson suites run elsewhere
#      in the test command);
#   2. lintian on the .changes: any error fails, warnings are listed;
#   3. installs libgsend1, libgsend-dev, gir1.2-gsend-1.0, libgsend-preload
#      and gsend-doc with apt-get;
#   4. with LD_LIBRARY_PATH, GI_TYPELIB_PATH and PKG_CONFIG_PATH unset:
#      compiles tests/consumer/consumer.c with `pkg-config --cflags --libs
#      gsend-1` and runs it against /usr/lib/<triplet>/libgsend.so.1; runs
#      examples/send-datagrams.py (system python3) and send-datagrams.js
#      (gjs); compiles examples/send-datagrams.vala with `valac --pkg
#      gsend-1` and runs it; runs tests/preload/gio-only.c (built against
#      GIO alone) with LD_PRELOAD=libgsend-preload.so; checks the reference
#      is in /usr/share/doc/gsend-1;
#   5. purges the packages (trap), so the machine is as before.
#
# usage: run-debian.sh [TARBALL]
#   TARBALL  gsend-VERSION.tar.xz from `meson dist`. Without it the files
#            git tracks in this tree are copied instead (no vendored crates:
#            cargo then downloads them).
# Needs root (apt-get, dpkg), dpkg-buildpackage, debhelper and lintian
# (scripts/setup.sh installs them) and cargo on PATH. Exits 77 (skipped)
# when it cannot install packages. GSEND_KEEP_DEBIAN=1 keeps the temporary
# directory with the .debs and logs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
tarball=${1:-}
packages=(libgsend1 libgsend-dev gir1.2-gsend-1.0 libgsend-preload gsend-doc)
start=$(date +%s)

say() { echo "== [$(( $(date +%s) - start ))s] $*"; }
fail() { echo "run-debian: FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  echo "run-debian: skipped: installing packages needs root"
  exit 77
fi
for tool in dpkg-buildpackage dh lintian apt-get cargo; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/setup.sh installs what is needed)"
done
# Never touch a gsend that someone installed on purpose.
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    fail "$p is already installed on this machine; remove it first (dpkg --purge ${packages[*]})"
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gsend-debian.XXXXXX")
installed=0
cleanup() {
  local rc=$?
  if [ "$installed" = 1 ]; then
    say "removing the packages"
    dpkg --purge "${packages[@]}" >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; rc=1; }
    for p in "${packages[@]}"; do
      if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        echo "run-debian: $p is still installed" >&2
        rc=1
      fi
    done
  fi
  if [ -n "${GSEND_KEEP_DEBIAN:-}" ]; then
    echo "run-debian: kept $tmp"
  else
    rm -rf "$tmp"
  fi
  say "done (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. build ---------------------------------------------------------------

mkdir "$tmp/build"
if [ -n "$tarball" ]; then
  say "unpacking $(basename "$tarball")"
  tar -xf "$tarball" -C "$tmp/build"
else
  say "copying the tree (no tarball given)"
  mkdir "$tmp/build/gsend"
  (cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - --) \
    | tar -xf - -C "$tmp/build/gsend"
fi
srcdir=$(find "$tmp/build" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -f "$srcdir/debian/control" ] || fail "no debian/ in the unpacked source"
# The project's version (the tarball's name) and the package's must agree.
upstream=$(cd "$srcdir" && dpkg-parsechangelog -S Version | sed 's/^[0-9]*://; s/-[^-]*$//')
if [ -n "$tarball" ] && [ "$(basename "$srcdir")" != "gsend-$upstream" ]; then
  fail "debian/changelog is at $upstream but the tarball is $(basename "$srcdir"): add a changelog entry (dch -v VERSION-1)"
fi

say "dpkg-buildpackage -us -uc -b (log: build.log)"
if [ -z "${GSEND_DEBIAN_CHECK:-}" ]; then
  export DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}"
fi
build_cmd=(dpkg-buildpackage -us -uc -b -j"$(nproc)")
# From the tarball the build must not need the network: run it in a network
# namespace of its own, with only a loopback interface.
if [ -n "$tarball" ] && unshare -n true 2>/dev/null; then
  echo "   (in a network namespace without network: unshare -n)"
  build_cmd=(unshare -n sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' sh "${build_cmd[@]}")
fi
(cd "$srcdir" && "${build_cmd[@]}") >"$tmp/build.log" 2>&1 \
  || { tail -n 60 "$tmp/build.log"; fail "dpkg-buildpackage"; }
changes=$(ls "$tmp"/build/*.changes)

echo "   packages:"
for deb in "$tmp"/build/*.deb; do
  printf '     %-45s %8s bytes, %s installed\n' "$(basename "$deb")" "$(stat -c %s "$deb")" \
    "$(dpkg-deb -f "$deb" Installed-Size) KiB"
done
if [ -n "${GSEND_DEBIAN_LIST:-}" ]; then
  for deb in "$tmp"/build/*.deb; do
    echo "   $(basename "$deb"):"
    dpkg-deb -c "$deb" | awk '{printf "     %9s %s\n", $3, $6 ($7 ? " " $7 " " $8 : "")}'
  done
fi

# --- 2. lintian -------------------------------------------------------------

say "lintian"
lintian --fail-on error --display-level '>=warning' "$changes" >"$tmp/lintian.log" 2>&1 \
  || { cat "$tmp/lintian.log"; fail "lintian reports errors"; }
echo "   lintian: no errors; $(grep -c '^W:' "$tmp/lintian.log" || true) warnings"
sed 's/^/     /' "$tmp/lintian.log"

# --- 3. install -------------------------------------------------------------

say "apt-get install ${packages[*]}"
debs=()
for p in "${packages[@]}"; do
  debs+=("$(ls "$tmp"/build/"${p}"_*.deb)")
done
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${debs[@]}" \
  >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "apt-get install"; }

# --- 4. use -----------------------------------------------------------------

# Nothing from the environment points into a build tree.
unset LD_LIBRARY_PATH GI_TYPELIB_PATH PKG_CONFIG_PATH LD_PRELOAD
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=/usr/lib/$multiarch
mkdir "$tmp/use"
cd "$tmp/use"

say "C consumer (pkg-config --cflags --libs gsend-1)"
cp "$src/tests/consumer/consumer.c" .
# shellcheck disable=SC2046
cc -Wall -Werror -o consumer consumer.c $(pkg-config --cflags --libs gsend-1) || fail "compiling consumer.c"
./consumer "$libdir/libgsend.so.1" || fail "the C consumer"

say "Python (examples/send-datagrams.py)"
/usr/bin/python3 "$src/examples/send-datagrams.py" || fail "send-datagrams.py"

say "GJS (examples/send-datagrams.js)"
gjs "$src/examples/send-datagrams.js" || fail "send-datagrams.js"

say "Vala (valac --pkg gsend-1 examples/send-datagrams.vala)"
cp "$src/examples/send-datagrams.vala" .
valac --pkg gsend-1 -X -w send-datagrams.vala -o send-datagrams-vala || fail "valac --pkg gsend-1"
./send-datagrams-vala || fail "send-datagrams.vala"

say "preload (a GIO-only program with LD_PRELOAD=libgsend-preload.so)"
# shellcheck disable=SC2046
cc -o gio-only -I"$src/tests/support" "$src/tests/preload/gio-only.c" $(pkg-config --cflags --libs gio-unix-2.0) \
  || fail "compiling gio-only.c"
EXPECT=shim LD_PRELOAD=libgsend-preload.so ./gio-only --tap >preload.log 2>&1 \
  || { cat preload.log; fail "gio-only under LD_PRELOAD=libgsend-preload.so"; }
echo "   $(grep -c '^ok' preload.log) checks passed under the preload library"

say "reference"
[ -f /usr/share/doc/gsend-1/index.html ] || fail "/usr/share/doc/gsend-1/index.html is not installed"
echo "   /usr/share/doc/gsend-1: $(find /usr/share/doc/gsend-1 -type f | wc -l) files"

say "all checks passed"
