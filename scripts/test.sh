#!/usr/bin/env bash
# Sets everything up and runs every test of gsend: formatting and lints, the
# Rust unit and integration tests, the header drift check, and through meson
# the C tests (against real GIO), the Python tests, the consumer test and the
# preload runs of GLib's own tests.
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
fi

# include/gsend.h must be what cbindgen generates now (build.rs writes it
# into OUT_DIR; the test compares the two files; `cargo update-header`
# updates the committed one).
step "committed header is current" cargo test --quiet --package gsend --test header

# The release tarball (meson dist, crates vendored) builds, passes the
# quick suites and installs with no network and an empty CARGO_HOME.
if [ -f meson.build ]; then
  step "release tarball builds offline" scripts/check-tarball.sh "$builddir"
fi

echo
echo "steps: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
