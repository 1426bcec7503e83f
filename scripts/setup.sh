#!/usr/bin/env bash
# Installs everything gsend needs to build, test and benchmark on Debian 12.
# Idempotent: when everything is there it only checks and returns.
set -euo pipefail

packages=(
  build-essential pkg-config libglib2.0-dev libglib2.0-bin
  meson ninja-build
  gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0
  python3 python3-gi
  valac gjs
  libglib2.0-tests valgrind gdb iproute2
  gi-docgen
  debhelper lintian
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust: the locked crates need cargo and rustc 1.85 or newer (several are
# edition 2024; Cargo.lock's format alone needs cargo 1.78, gsend's own code
# rustc 1.82). Debian 12's own cargo is 1.63: use rustup. A git checkout
# fetches the crates from crates.io on its first build; a release tarball
# (meson dist) has them vendored and builds offline.
rust_minimum=1.85
version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
for tool in cargo rustc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup: $tool (Rust >= $rust_minimum) is required: install Rust with rustup (https://rustup.rs)" >&2
    exit 1
  fi
  found=$("$tool" --version | awk '{print $2}')
  if ! version_at_least "$found" "$rust_minimum"; then
    echo "setup: $(command -v "$tool") is $found; gsend needs $tool >= $rust_minimum" \
      "(Debian 12's own Rust is too old): run 'rustup update stable' or put a newer Rust first in PATH" >&2
    exit 1
  fi
done
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
echo "setup: ok"
