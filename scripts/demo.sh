#!/usr/bin/env bash
# Sets everything up, builds gsend, and runs the demo: a C program that sends
# a batch of datagrams through gsend on loopback and prints what arrived.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet
out=target/demo
mkdir -p "$out"
ln -sf ../release/libgsend.so "$out/libgsend.so.1"
ln -sf ../release/libgsend.so "$out/libgsend.so"
cc -Wall -o "$out/send-batch" examples/send-batch.c -Iinclude \
  $(pkg-config --cflags --libs gio-2.0) -L"$out" -lgsend -Wl,-rpath,"$PWD/$out"
"$out/send-batch"
