#!/usr/bin/env bash
# Sets everything up and runs every test of gsend: formatting and lints, the
# Rust unit and integration tests, the header drift check, and through meson
# the C tests (against real GIO), the Python tests, the consumer test and the
# preload runs of GLib's own tests, the GLib compatibility matrix
# (scripts/glib-matrix.sh; GSEND_SKIP_MATRIX=1 leaves it out) and the C and
# differential tests once more on the getter fallback (GSEND_DIRECT_READS=0).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/setup.sh

passed=0
failed=0
failures=()
step() {
  local name=$1; shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== FAILED: $name"
  fi
}

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo test" cargo test --workspace --quiet

builddir=${GSEND_BUILDDIR:-$root/_build}
if [ -f meson.build ]; then
  if [ ! -f "$builddir/build.ninja" ]; then
    step "meson setup" meson setup "$builddir" --buildtype=release
  else
    # Test directories are found at configure time: look again.
    step "meson setup" meson setup --reconfigure "$builddir"
  fi
  step "meson compile" meson compile -C "$builddir"
  step "meson test" meson test -C "$builddir" --print-errorlogs --num-processes 2
  # The GLib compatibility matrix: GLib 2.66, 2.84 and 2.88 built from
  # Debian's sources (cached in /var/cache/gsend-glib after the first run),
  # gsend's suites on each; the system GLib's row comes from the run above.
  # Rewrites README.md's compatibility table.
  if [ "${GSEND_SKIP_MATRIX:-0}" != 1 ]; then
    step "GLib matrix" env GSEND_MATRIX_SYSTEM_BUILDDIR="$builddir" scripts/glib-matrix.sh
  fi
  # The fallback path: every GSocket field read through GIO's getters.
  step "meson test c, diff (GSEND_DIRECT_READS=0)" env GSEND_DIRECT_READS=0 \
    meson test -C "$builddir" --suite c --suite diff --print-errorlogs --num-processes 2
fi

# The build regenerates include/gsend.h: it must be what is committed.
step "committed header is current" git diff --exit-code -- include/gsend.h

echo
echo "steps: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
