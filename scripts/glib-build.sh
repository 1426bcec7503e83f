#!/usr/bin/env bash
# Fetches GLib's Debian source packages with apt's own client and builds
# each into its own prefix outside the repository, with the GLib tests the
# preload suite runs, for the GLib compatibility matrix
# (scripts/glib-matrix.sh).
#
# usage: scripts/glib-build.sh [DEBIAN-VERSION...]
#   default versions: the ones in GLIB_VERSIONS below.
#   The last line of output is "glib-build: ready VERSION..." (the
#   versions built or found cached, in order): the matrix reads it.
#
# Environment:
#   GSEND_GLIB_CACHE  where sources, builds and prefixes go
#                     (default /var/cache/gsend-glib, or
#                     ~/.cache/gsend-glib when that is not writable)
#   GSEND_APT_MIRROR  Debian mirror for the deb-src lines (default: the
#                     first http(s) Debian mirror of the machine's apt
#                     sources, else http://deb.debian.org/debian)
#
# Per version, <cache>/<version>/ holds:
#   prefix/                               lib/, include/, lib/pkgconfig/
#   prefix/libexec/installed-tests/glib/  GLib's tests the preload suite runs
#   stamp                                 written last; while it matches this
#                                         script's recipe a run does nothing
#   build.log                             the full output of the build
#
# The source comes from a private apt configuration (its own sources.list,
# state and cache under <cache>/apt): the system's apt sources are never
# changed. apt checks the Release signatures with the machine's Debian
# archive keyring and the files' checksums. dpkg-source -x unpacks the
# package with Debian's patches applied: the GLib Debian users run.
#
# Only what the matrix needs is compiled: GLib's libraries and tools (every
# target outside the tests directories) and the test programs below, not
# GLib's few hundred other tests. Any failure stops the run with a message
# naming the version and the step; nothing is skipped.
set -euo pipefail

GLIB_VERSIONS=(2.66.8-1 "2.84.4-3~deb13u5" 2.88.0-1)
# The GLib test programs installed into each prefix (the preload suite's
# list in tests/preload/run-glib-tests.py).
GLIB_TESTS=(socket unix-fd proxy-test gdbus-peer credentials socket-service
  socket-listener network-address)
# Bump when the recipe changes: every cached build is then redone.
RECIPE=1
PYPI_MESON=1.9.1

die() { echo "glib-build: $*" >&2; exit 1; }

cache=${GSEND_GLIB_CACHE:-}
if [ -z "$cache" ]; then
  cache=/var/cache/gsend-glib
  if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/gsend-glib
  fi
fi
mkdir -p "$cache" || die "cannot create the cache directory $cache"
cache=$(cd "$cache" && pwd)

[ $# -gt 0 ] && GLIB_VERSIONS=("$@")

mirror() {
  if [ -n "${GSEND_APT_MIRROR:-}" ]; then echo "$GSEND_APT_MIRROR"; return; fi
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
      grep -oE 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -n1 |
      tr -d ' ' || true)
  echo "${m:-http://deb.debian.org/debian}"
}

aptdir=$cache/apt
apt_opts=(-o "Dir::Etc::SourceList=$aptdir/sources.list"
  -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State=$aptdir/state" -o "Dir::Cache=$aptdir/cache"
  -o Debug::NoLocking=1)
apt_ready=0
apt_update() {
  [ "$apt_ready" = 1 ] && return 0
  local m keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  m=$(mirror); m=${m%/}
  [ -f "$keyring" ] || die "no $keyring (package debian-archive-keyring): cannot check Debian's signatures"
  mkdir -p "$aptdir/state/lists/partial" "$aptdir/cache/archives/partial"
  {
    for suite in bullseye trixie trixie-updates sid; do
      echo "deb-src [signed-by=$keyring] $m $suite main"
    done
    # Security updates of trixie (a ~deb13uN version may only be there).
    echo "deb-src [signed-by=$keyring] ${m%/debian}/debian-security trixie-security main"
  } > "$aptdir/sources.list"
  echo "glib-build: apt-get update (private configuration in $aptdir, mirror $m)"
  apt-get "${apt_opts[@]}" -q update > "$aptdir/update.log" 2>&1 ||
    { cat "$aptdir/update.log" >&2; die "apt-get update failed (log above)"; }
  # A suite whose signature cannot be checked is refused by apt; say so.
  if grep -E '^(W|E): .*(NO_PUBKEY|not signed|EXPKEYSIG|InRelease.*(invalid|not valid))' \
      "$aptdir/update.log" >&2; then
    die "apt could not verify a Release file with $keyring (see above)"
  fi
  apt_ready=1
}

meson_for() {
  # The meson GLib asks for: Debian 12's when new enough, else PyPI's in a
  # virtual environment under the cache.
  local src=$1 need sysver
  need=$(grep -m1 -oE "meson_version *: *'>= *[0-9.]+'" "$src/meson.build" |
    grep -oE '[0-9]+(\.[0-9]+)+' || echo 0)
  sysver=$(meson --version 2>/dev/null || echo 0)
  if [ "$(printf '%s\n%s\n' "$need" "$sysver" | sort -V | head -n1)" = "$need" ]; then
    command -v meson
    return
  fi
  local venv=$cache/venv-meson-$PYPI_MESON
  if [ ! -x "$venv/bin/meson" ]; then
    echo "glib-build: meson >= $need needed (system: $sysver): meson $PYPI_MESON from PyPI into $venv" >&2
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv" >&2 || die "python3 -m venv failed (package python3-venv)"
    "$venv/bin/pip" install -q "meson==$PYPI_MESON" >&2 || die "pip install meson==$PYPI_MESON failed"
  fi
  echo "$venv/bin/meson"
}

# GLib's test programs find their helper library (gdbus-peer's
# libgdbus-example-objectmanager.so) in the prefix's lib directory, which
# the matrix puts in LD_LIBRARY_PATH. Idempotent (also run on a cached
# build made before this step existed).
install_test_helpers() {
  local dir=$1 f
  for f in "$dir"/build/gio/tests/gdbus-object-manager-example/libgdbus-example-objectmanager.so; do
    [ -f "$f" ] || die "GLib in $dir: no $f (built with gdbus-peer)"
    cmp -s "$f" "$dir/prefix/lib/${f##*/}" || install -m 755 "$f" "$dir/prefix/lib/${f##*/}"
  done
  # gdbus-peer passes the fd of a data file beside it (file.c, as GLib's
  # own installation of the test does).
  local tdir=$dir/prefix/libexec/installed-tests/glib
  if [ -f "$dir/src/gio/tests/file.c" ] && [ -d "$tdir" ]; then
    cmp -s "$dir/src/gio/tests/file.c" "$tdir/file.c" || install -m 644 "$dir/src/gio/tests/file.c" "$tdir/file.c"
  fi
}

build_one() {
  local ver=$1
  local upstream=${ver%-*}
  upstream=${upstream#*:}
  local dir=$cache/$ver
  local stamp_text="recipe $RECIPE glib2.0=$ver tests ${GLIB_TESTS[*]}"
  if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$stamp_text" ]; then
    install_test_helpers "$dir"
    echo "glib-build: GLib $ver: cached in $dir/prefix"
    return 0
  fi
  local t0=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir/download"
  local log=$dir/build.log
  echo "glib-build: GLib $ver: fetching (apt-get source glib2.0=$ver)"
  apt_update
  (cd "$dir/download" &&
    apt-get "${apt_opts[@]}" -q source --download-only "glib2.0=$ver") > "$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "GLib $ver: apt-get source glib2.0=$ver failed (full log: $log)"; }
  local dsc
  dsc=$(ls "$dir"/download/glib2.0_*.dsc 2>/dev/null | head -n1)
  [ -n "$dsc" ] || die "GLib $ver: no .dsc was downloaded (log: $log)"
  # apt has checked the files against the signed Sources index; the .dsc's
  # own signature is not checked again (no Debian developer keyring here).
  dpkg-source --no-check -x "$dsc" "$dir/src" >> "$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "GLib $ver: dpkg-source -x failed (log: $log)"; }

  local src=$dir/src meson_bin
  meson_bin=$(meson_for "$src")
  # Options as this version knows them (names changed over the years).
  local optfile=$src/meson.options
  [ -f "$optfile" ] || optfile=$src/meson_options.txt
  local opts=() o name
  for o in tests=true installed_tests=false introspection=disabled \
      documentation=false gtk_doc=false man-pages=disabled man=false \
      selinux=disabled libmount=disabled sysprof=disabled internal_pcre=true \
      nls=disabled dtrace=false systemtap=false libelf=disabled xattr=true; do
    name=${o%%=*}
    grep -q "option('$name'" "$optfile" && opts+=("-D$o")
  done
  # gtk_doc/man are booleans on some versions and features on none: drop
  # man=false when man-pages exists (2.84+ deprecated man).
  if grep -q "option('man-pages'" "$optfile"; then
    local kept=(); for o in "${opts[@]}"; do [ "$o" = -Dman=false ] || kept+=("$o"); done
    opts=("${kept[@]}")
  fi
  echo "glib-build: GLib $ver: meson setup with $("$meson_bin" --version) ${opts[*]}"
  "$meson_bin" setup "$dir/build" "$src" --prefix="$dir/prefix" --libdir=lib \
    --buildtype=release --wrap-mode=nodownload "${opts[@]}" >> "$log" 2>&1 ||
    { tail -n 30 "$log" >&2; die "GLib $ver: meson setup failed (log: $log)"; }

  # Targets: everything not defined in a tests directory, and our tests.
  local targets
  targets=$("$meson_bin" introspect "$dir/build" --targets | python3 -c '
import json, os, sys
build, wanted = sys.argv[1], set(sys.argv[2:])
out = []
for t in json.load(sys.stdin):
    d = t["defined_in"]
    if "/tests/" in d or "/fuzzing/" in d:
        if t["name"] in wanted and d.endswith("gio/tests/meson.build"):
            out += t["filename"]
        continue
    out += t["filename"]
print("\n".join(os.path.relpath(f, build) for f in out))
' "$dir/build" "${GLIB_TESTS[@]}")
  local t
  for t in "${GLIB_TESTS[@]}"; do
    grep -qx "gio/tests/$t" <<<"$targets" || die "GLib $ver: no test target gio/tests/$t"
  done
  echo "glib-build: GLib $ver: compiling $(wc -l <<<"$targets") targets"
  # shellcheck disable=SC2086
  ninja -C "$dir/build" $targets >> "$log" 2>&1 ||
    { grep -E 'error|FAILED' "$log" | tail -n 30 >&2; die "GLib $ver: compilation failed (log: $log)"; }
  "$meson_bin" install -C "$dir/build" --no-rebuild >> "$log" 2>&1 ||
    { tail -n 30 "$log" >&2; die "GLib $ver: meson install failed (log: $log)"; }
  local tdir=$dir/prefix/libexec/installed-tests/glib
  mkdir -p "$tdir"
  for t in "${GLIB_TESTS[@]}"; do
    install -m 755 "$dir/build/gio/tests/$t" "$tdir/$t"
  done
  install_test_helpers "$dir"
  [ -f "$dir/prefix/lib/pkgconfig/gio-2.0.pc" ] || die "GLib $ver: no gio-2.0.pc installed"
  echo "$stamp_text" > "$dir/stamp"
  echo "glib-build: GLib $ver: built in $((SECONDS - t0)) s into $dir/prefix"
}

for v in "${GLIB_VERSIONS[@]}"; do
  build_one "$v"
done
echo "glib-build: cache $cache"
# For scripts/glib-matrix.sh: the versions now ready, in order (Debian
# versions contain no spaces).
echo "glib-build: ready ${GLIB_VERSIONS[*]}"
