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

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo (Rust) is required; install it with rustup" >&2
  exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
echo "setup: ok"
