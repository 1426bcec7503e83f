#!/usr/bin/env bash
# Sets everything up and runs every test of gsend: formatting and lints, the
# Rust unit and integration tests, every meson suite (C tests against real
# GIO, GIO compared with gsend, segmentation offload, stress, GLib's own
# tests under the preload library, Python, Vala and GJS, the consumer,
# valgrind), the API reference, the GLib compatibility matrix
# (scripts/glib-matrix.sh; GSEND_SKIP_MATRIX=1 leaves it out), the C and
# differential tests once more on the getter fallback (GSEND_DIRECT_READS=0),
# the header drift check, the release tarball built offline and the Debian
# packages built, installed, used and removed.
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

  # The API reference: gi-docgen over the GIR and docs/*.md, any warning
  # fatal, in a build directory of its own (documentation on, tests off)
  # that reuses the cargo build above.
  docbuild=$builddir/reference-build
  if [ ! -f "$docbuild/build.ninja" ]; then
    step "meson setup (reference)" meson setup "$docbuild" --buildtype=release \
      -Ddocumentation=true -Dtests=false -Dcargo_target_dir="$builddir/cargo-target"
  else
    step "meson setup (reference)" meson setup --reconfigure "$docbuild"
  fi
  step "API reference (gi-docgen)" meson compile -C "$docbuild"

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

# include/gsend.h must be what cbindgen generates now (build.rs writes it
# into OUT_DIR; the test compares the two files; `cargo update-header`
# updates the committed one).
step "committed header is current" cargo test --quiet --package gsend --test header

# The release tarball (meson dist, crates vendored) builds, passes the
# quick suites and installs with no network and an empty CARGO_HOME.
if [ -f meson.build ]; then
  step "release tarball builds offline" scripts/check-tarball.sh "$builddir"
fi

# The Debian packages, built from that tarball (it carries debian/) with no
# network, checked by lintian, installed into this machine, used by C,
# Python, GJS, Vala and an LD_PRELOAD run, and removed again. Skipped when
# not root.
debian_packages() {
  local tarball rc=0
  tarball=$(ls "$builddir"/meson-dist/gsend-*.tar.xz 2>/dev/null | head -n 1)
  if [ -z "$tarball" ]; then
    meson dist -C "$builddir" --no-tests --formats xztar --allow-dirty || return 1
    tarball=$(ls "$builddir"/meson-dist/gsend-*.tar.xz | head -n 1)
  fi
  tests/debian/run-debian.sh "$tarball" || rc=$?
  if [ "$rc" -eq 77 ]; then
    echo "Debian packages: skipped (needs root)"
    return 0
  fi
  return "$rc"
}
if [ -f meson.build ] && [ -d debian ]; then
  step "Debian packages" debian_packages
fi

echo
echo "steps: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
