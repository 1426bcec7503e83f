#!/usr/bin/env bash
# Sets everything up and runs the benchmark (README, "Performance"): the CPU-time table
# of GIO, gsend, gsend with GSO off and the raw sendmmsg loop, then the
# user-space instructions per datagram under callgrind.
#   scripts/bench.sh [gsend-bench options, default --rounds 30]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -eq 0 ]; then set -- --rounds 30; fi
bench/run.sh "$@"
echo
VARIANTS="gio gsend gsend-nogso raw" bench/callgrind.sh 2000
