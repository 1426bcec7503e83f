#!/usr/bin/env bash
# meson setup's answers about the Vala bindings when vapigen is missing:
#   1. -Dvapi=enabled                           -> fails naming vapigen and
#                                                  -Dvapi=disabled
#   2. -Dvapi=auto (the default)                -> configures, says why the
#                                                  vapi is not built
#   3. -Dvapi=enabled -Dintrospection=disabled  -> fails naming both options
# vapigen is hidden by a PATH of links to every other program.
#
# usage: check-vapi-setup.sh SOURCE_ROOT
set -uo pipefail
src=$(cd "$1" && pwd)
meson=${MESON:-meson}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gsend-vapi-setup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset MESON_TEST_ITERATION MESONINTROSPECT
failed=0

# A PATH with everything but vapigen (and its versioned names).
bin=$tmp/bin
mkdir "$bin"
IFS=: read -r -a path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    name=${f##*/}
    case $name in vapigen*) continue ;; esac
    [ -e "$bin/$name" ] || ln -s "$f" "$bin/$name"
  done
done
if PATH=$bin command -v vapigen >/dev/null; then
  echo "could not hide vapigen"; exit 1
fi

# expect NAME ok|fail PATTERN... -- MESON-ARGS...
n=0
expect() {
  local name=$1 want=$2; shift 2
  local patterns=()
  while [ "$1" != -- ]; do patterns+=("$1"); shift; done
  shift
  n=$((n + 1))
  local out rc=0
  out=$(PATH=$bin "$meson" setup "$tmp/b$n" "$src" -Dtests=false "$@" 2>&1) || rc=$?
  if { [ "$want" = ok ] && [ $rc -ne 0 ]; } || { [ "$want" = fail ] && [ $rc -eq 0 ]; }; then
    echo "FAIL: $name: exit status $rc"; echo "$out" | tail -5; failed=1; return
  fi
  for p in "${patterns[@]}"; do
    if ! grep -qF -- "$p" <<<"$out"; then
      echo "FAIL: $name: no '$p' in the output:"; echo "$out" | grep -E 'ERROR|Message' | head -3; failed=1; return
    fi
  done
  echo "  $name: $(grep -E 'ERROR|vapigen not found|not built' <<<"$out" | head -n 1)"
}

expect "vapi enabled, no vapigen" fail "vapigen not found" "-Dvapi=disabled" -- -Dvapi=enabled
expect "vapi auto, no vapigen" ok "vapigen not found" "Vala bindings (vapi)" -- -Dvapi=auto
expect "vapi enabled, no introspection" fail "-Dintrospection=enabled" "-Dvapi=disabled" -- \
  -Dvapi=enabled -Dintrospection=disabled
[ "$failed" = 0 ] && echo "vapi setup checks: ok"
exit "$failed"
