#!/usr/bin/env bash
# meson setup with a missing or too old tool fails at once, with a message
# that names the tool (and the option that turns its part off, when there
# is one); nothing is built, so nothing can be half-installed.
#   1. no cargo in PATH                      -> names cargo and Rust >= 1.85
#   2. a cargo older than 1.85               -> names its version and 1.85
#   3. no gobject-introspection-1.0          -> names g-ir-scanner and
#                                               -Dintrospection=disabled
#   4. the same with -Dintrospection=disabled -> configures
#   5. no vapigen, -Dvapi=enabled            -> names vapigen and
#                                               -Dvapi=disabled
#   6. no vapigen, -Dvapi=auto (the default) -> configures, says why
#   7. -Dvapi=enabled -Dintrospection=disabled -> names both options
#
# usage: check-setup-errors.sh SOURCE_ROOT
set -uo pipefail
src=$(cd "$1" && pwd)
meson=${MESON:-meson}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gsend-setup-errors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset MESON_TEST_ITERATION MESONINTROSPECT
failed=0

# expect NAME WANT_RC PATTERN... -- COMMAND...: runs COMMAND, checks its exit
# status (0 or not) and that every PATTERN appears in its output.
expect() {
  local name=$1 want=$2; shift 2
  local patterns=()
  while [ "$1" != -- ]; do patterns+=("$1"); shift; done
  shift
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if { [ "$want" = ok ] && [ $rc -ne 0 ]; } || { [ "$want" = fail ] && [ $rc -eq 0 ]; }; then
    echo "FAIL: $name: exit status $rc"; echo "$out" | tail -5; failed=1; return
  fi
  for p in "${patterns[@]}"; do
    if ! grep -qF -- "$p" <<<"$out"; then
      echo "FAIL: $name: no '$p' in:"; echo "$out" | grep -E 'ERROR' | head -3; failed=1; return
    fi
  done
  [ "$want" = fail ] && grep -E 'ERROR' <<<"$out" | head -1 | sed "s/^/  $name: /"
  [ "$want" = ok ] && echo "  $name: configured"
}

# 1. PATH without the directories that hold a cargo.
nocargo_path=
IFS=: read -r -a path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
  [ -x "$d/cargo" ] || nocargo_path=${nocargo_path:+$nocargo_path:}$d
done
expect "no cargo" fail "cargo not found" "1.85" -- \
  env PATH="$nocargo_path" "$meson" setup "$tmp/b1" "$src" -Dtests=false

# 2. A cargo that says it is 1.63 (Debian 12's).
mkdir "$tmp/old-bin"
printf '#!/bin/sh\necho "cargo 1.63.0"\n' >"$tmp/old-bin/cargo"
chmod +x "$tmp/old-bin/cargo"
expect "old cargo" fail "1.63.0" ">= 1.85" -- \
  env PATH="$tmp/old-bin:$PATH" "$meson" setup "$tmp/b2" "$src" -Dtests=false

# 3. pkg-config finds everything but gobject-introspection-1.0.
pcdir=$tmp/pkgconfig
mkdir "$pcdir"
IFS=: read -r -a dirs <<<"${PKG_CONFIG_PATH:+$PKG_CONFIG_PATH:}$(pkg-config --variable pc_path pkg-config)"
for d in "${dirs[@]}"; do
  for f in "$d"/*.pc; do
    [ -e "$f" ] || continue
    case $(basename "$f") in gobject-introspection-*) continue ;; esac
    [ -e "$pcdir/$(basename "$f")" ] || ln -s "$f" "$pcdir/"
  done
done
expect "no introspection" fail "g-ir-scanner" "-Dintrospection=disabled" -- \
  env PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH= "$meson" setup "$tmp/b3" "$src" -Dtests=false

# 4. ... and with the option that turns it off, it configures.
expect "introspection disabled" ok -- \
  env PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH= "$meson" setup "$tmp/b4" "$src" -Dtests=false -Dintrospection=disabled

# 5-7. A PATH of links to every program but vapigen (and its versioned
# names).
novapi_bin=$tmp/novapi-bin
mkdir "$novapi_bin"
for d in "${path_dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    case ${f##*/} in vapigen*) continue ;; esac
    [ -e "$novapi_bin/${f##*/}" ] || ln -s "$f" "$novapi_bin/"
  done
done
expect "no vapigen, vapi enabled" fail "vapigen not found" "-Dvapi=disabled" -- \
  env PATH="$novapi_bin" "$meson" setup "$tmp/b5" "$src" -Dtests=false -Dvapi=enabled
expect "no vapigen, vapi auto" ok "vapigen not found" -- \
  env PATH="$novapi_bin" "$meson" setup "$tmp/b6" "$src" -Dtests=false
expect "vapi enabled, introspection disabled" fail "-Dintrospection=enabled" "-Dvapi=disabled" -- \
  "$meson" setup "$tmp/b7" "$src" -Dtests=false -Dvapi=enabled -Dintrospection=disabled

# Nothing was built by the failed setups.
for b in b1 b2 b3 b5 b7; do
  [ ! -e "$tmp/$b/build.ninja" ] || { echo "FAIL: $b has a build.ninja"; failed=1; }
done
[ $failed -eq 0 ] && echo "setup errors: ok"
exit $failed
