#!/bin/sh
# Run one test executable under valgrind's memcheck and fail on any memory
# error or definite leak.
#
#   run-memcheck.sh SUPPRESSIONS EXECUTABLE [ARGS...]
#   run-memcheck.sh SUPPRESSIONS DIRECTORY
#
# With a DIRECTORY, every executable file directly in it is checked in
# turn (new test programs of other suites are picked up by themselves).
#
# SUPPRESSIONS: one file or several separated by commas.
# EXECUTABLE missing → exit 77 (skipped). Workloads of the stress tests are
# scaled down (GSEND_STRESS_SCALE, default 0.05) and their watchdogs scaled
# up. LD_PRELOAD in the environment is passed through to the program (used
# for GLib's installed tests with libgsend-preload.so).
# MEMCHECK_SKIP_MATCHING (an extended regular expression): GTest cases whose
# path matches are left out (-s), e.g. cases that hand the kernel a NULL
# buffer or sizes larger than the buffer on purpose (memcheck rightly flags
# those system calls). MEMCHECK_TEST_ARGS is appended to the arguments.
# Prints valgrind's ERROR SUMMARY and LEAK SUMMARY lines.
set -u

supp=$1
exe=$2
shift 2

if [ -d "$exe" ]; then
  found=0
  failed=0
  for f in "$exe"/*; do
    [ -f "$f" ] && [ -x "$f" ] || continue
    case "$f" in *.so|*.so.*|*.sh|*.py) continue ;; esac
    found=1
    "$0" "$supp" "$f" || failed=1
  done
  if [ $found = 0 ]; then
    echo "SKIP: no test programs in $exe"
    exit 77
  fi
  exit $failed
fi

if [ ! -x "$exe" ]; then
  echo "SKIP: $exe not built"
  exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
  echo "SKIP: valgrind not installed"
  exit 77
fi

supp_args=
old_ifs=$IFS
IFS=,
for f in $supp; do
  supp_args="$supp_args --suppressions=$f"
done
IFS=$old_ifs

log=$(mktemp "${TMPDIR:-/tmp}/memcheck.XXXXXX.log")
trap 'rm -f "$log"' EXIT

export G_SLICE=always-malloc
export G_DEBUG=gc-friendly${G_DEBUG_EXTRA:+,$G_DEBUG_EXTRA}
export GSEND_STRESS_SCALE=${GSEND_STRESS_SCALE:-0.05}
export GSEND_STRESS_WATCHDOG_FACTOR=${GSEND_STRESS_WATCHDOG_FACTOR:-10}

verbose=
if [ -n "${LD_PRELOAD:-}" ]; then
  verbose=-v # to see which shared objects were loaded
fi

skip_args=
if [ -n "${MEMCHECK_SKIP_MATCHING:-}" ]; then
  for p in $("$exe" -l 2>/dev/null | grep '^/' | grep -E "$MEMCHECK_SKIP_MATCHING"); do
    skip_args="$skip_args -s $p"
  done
  [ -n "$skip_args" ] && echo "left out under memcheck:$skip_args"
fi

valgrind $verbose --tool=memcheck \
  --error-exitcode=1 \
  --leak-check=full \
  --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite \
  --num-callers=40 \
  $supp_args \
  --log-file="$log" \
  "$exe" "$@" $skip_args ${MEMCHECK_TEST_ARGS:-}
rc=$?

echo "== memcheck: $(basename "$exe") $* (exit $rc)"
grep -E "ERROR SUMMARY|LEAK SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|suppressed:" "$log" | sed 's/^==[0-9]*== *//'
if [ -n "${LD_PRELOAD:-}" ]; then
  for lib in $LD_PRELOAD; do
    if grep -q "Reading syms from $lib\$" "$log"; then
      echo "preloaded: $lib"
    else
      echo "FAIL: $lib was not loaded into the program"
      rc=1
    fi
  done
fi
if [ $rc -ne 0 ]; then
  echo "== full valgrind log:"
  cat "$log"
fi
exit $rc
