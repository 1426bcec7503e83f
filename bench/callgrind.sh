#!/bin/sh
# User-space instructions per datagram (callgrind), GIO vs gsend, per case.
#   bench/callgrind.sh [CALLS]      (default 2000 calls per case and variant)
# Collection is switched on around the send calls only; kernel work is not
# counted by callgrind. BUILD_DIR (default: <repo>/_build) is the meson
# build directory. VARIANTS (default "gio gsend") may add gsend-nogso raw;
# CASES (default: all six) picks cases. The "-apart" cases give every
# message its vector apart from the others' (an array per message).
# GSO_MAX_BYTES caps the gsend variant's segmented sends
# (gsend_socket_set_gso_max_bytes), e.g. 16384 or 32768.
set -eu
. "$(dirname "$0")/build-bench.sh"
calls=${1:-2000}
variants=${VARIANTS:-gio gsend}
bench="$build/bench/gsend-bench"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# Ir collected / datagrams sent, for one case and variant.
ir_per_dgram() {
  out="$tmp/cg.$1.$2"
  valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out" \
    "$bench" ${GSO_MAX_BYTES:+--gso-max-bytes "$GSO_MAX_BYTES"} --callgrind "$1" "$2" "$calls" >"$tmp/log" 2>"$tmp/err" || {
    cat "$tmp/err" >&2
    exit 1
  }
  dgrams=$(sed -n 's/.* datagrams \([0-9]*\)$/\1/p' "$tmp/log")
  ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out")
  [ -n "$ir" ] || ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
  # The benchmark's own code between the two toggles (argument set-up, the
  # client request) is charged to run_callgrind (~20 Ir per call): left out.
  own=$(callgrind_annotate --inclusive=no "$out" 2>/dev/null |
        awk '/run_callgrind/ { gsub(",", "", $1); print $1; exit }')
  awk -v ir="$ir" -v own="${own:-0}" -v d="$dgrams" 'BEGIN { printf "%.1f", (ir - own) / d }'
}

printf '| case |'
for v in $variants; do printf ' %s |' "$v"; done
printf ' gsend/GIO |\n|---|'
for v in $variants; do printf -- '---:|'; done
printf -- '---:|\n'
for c in ${CASES:-one-1200 one-100 many-1200 single-1200 one-1200-apart one-100-apart}; do
  printf '| %s |' "$c"
  gio= gs=
  for v in $variants; do
    x=$(ir_per_dgram "$c" "$v")
    [ "$v" = gio ] && gio=$x
    [ "$v" = gsend ] && gs=$x
    printf ' %s |' "$x"
  done
  if [ -n "$gio" ] && [ -n "$gs" ]; then
    awk -v a="$gs" -v b="$gio" 'BEGIN { printf " %.2f |\n", a / b }'
  else
    printf ' |\n'
  fi
done
echo
echo "User-space instructions (callgrind Ir) per datagram inside the send calls,"
echo "$calls calls per case and variant (the benchmark's own call-site code left out)."
