#!/bin/sh
# Builds the tree with meson (if needed) and runs the benchmark table.
#   bench/run.sh [gsend-bench options: --rounds R --bursts B --quick]
# BUILD_DIR (default: <repo>/_build) is the meson build directory used.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$repo/_build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$repo" >/dev/null
elif ! grep -q 'bench/gsend-bench' "$build/build.ninja"; then
  # Configured before bench/meson.build existed (the root meson.build only
  # looks for it at configure time).
  meson setup --reconfigure "$build" "$repo" >/dev/null
fi
log=$(mktemp)
if ! meson compile -C "$build" gsend-bench >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$build/bench/gsend-bench" "$@"
