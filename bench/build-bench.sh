# Sourced by bench/run.sh and bench/callgrind.sh: sets repo and build
# (BUILD_DIR, default <repo>/_build: the meson build directory), configures
# it if needed and builds gsend-bench there, quietly unless it fails.
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
