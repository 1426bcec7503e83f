#!/bin/sh
# Builds the tree with meson (if needed) and runs the benchmark table.
#   bench/run.sh [gsend-bench options: --rounds R --bursts B --quick]
# BUILD_DIR (default: <repo>/_build) is the meson build directory used.
set -eu
. "$(dirname "$0")/build-bench.sh"
LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$build/bench/gsend-bench" "$@"
