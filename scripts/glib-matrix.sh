#!/usr/bin/env bash
# The GLib compatibility matrix: builds gsend against each GLib that
# scripts/glib-build.sh built from Debian's sources (fetching and building
# them first if they are not cached) and runs gsend's suites against it;
# writes a report and regenerates README.md's compatibility table from it.
#
# usage: scripts/glib-matrix.sh [DEBIAN-VERSION...]
#
# Per GLib (the system's and each built one), one row of the report:
#   - gsend configured in its own build directory with PKG_CONFIG_PATH at
#     that GLib's prefix (-Dintrospection=disabled: the GIR and Python stay on
#     the system GLib), and run with LD_LIBRARY_PATH at it;
#   - tests/c/glib-info proves which libgio the binaries load and prints
#     the GSocketPrivate layout probe's verdict (direct reads accepted or
#     refused);
#   - meson suites c, diff, gso, stress (GSEND_STRESS_SCALE, default 0.1
#     here), preload (with that GLib's own tests: socket, unix-fd,
#     proxy-test, ...) and consumer.
#
# The system GLib's row is read from an existing build's meson test log
# when GSEND_MATRIX_SYSTEM_BUILDDIR names a build directory whose suites
# already ran (scripts/test.sh passes its own); otherwise the system GLib
# gets its own build and run like the others.
#
# Environment:
#   GSEND_GLIB_CACHE          see scripts/glib-build.sh
#   GSEND_MATRIX_DIR          build directories and the report
#                             (default: <repo>/_build-glib)
#   GSEND_MATRIX_SUITES       suites to run (default: c diff gso stress
#                             preload consumer)
#   GSEND_MATRIX_SYSTEM_BUILDDIR  see above
#   GSEND_MATRIX_DIFF_TESTS   tests of the diff suite run on the built
#                             GLibs (default: diff diff-ecn diff-ecn-gso-off)
#   GSEND_STRESS_SCALE        stress workload factor (default 0.1)
#
# Output: <dir>/report.tsv (one line per GLib), <dir>/<version>/*.log;
# README.md's table between the "glib-matrix" markers is rewritten by
# scripts/glib-matrix-table.py. Exit status 1 if any GLib failed anything.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

versions=("$@")
suites=(${GSEND_MATRIX_SUITES:-c diff gso stress preload consumer})
out=${GSEND_MATRIX_DIR:-$root/_build-glib}
mkdir -p "$out"
export GSEND_STRESS_SCALE=${GSEND_STRESS_SCALE:-0.1}

t_all=$SECONDS
echo "=== glib-matrix: GLib builds (scripts/glib-build.sh)"
t0=$SECONDS
scripts/glib-build.sh "${versions[@]}" 2>&1 | tee "$out/glib-build.log"
if [ "${PIPESTATUS[0]}" != 0 ]; then
  echo "glib-matrix: FAILED: a GLib could not be fetched or built (above)" >&2
  exit 1
fi
build_out=$(cat "$out/glib-build.log")
echo "=== glib-matrix: GLib builds took $((SECONDS - t0)) s"
cache=$(sed -n 's/^glib-build: cache //p' <<<"$build_out" | tail -n1)
# The versions glib-build.sh made ready, from its one line for this
# purpose (its other lines are for people and may change).
read -r -a versions <<<"$(sed -n 's/^glib-build: ready //p' <<<"$build_out" | tail -n1)"
if [ -z "$cache" ] || [ ${#versions[@]} = 0 ]; then
  echo "glib-matrix: FAILED: scripts/glib-build.sh did not name its cache and the versions it made ready" >&2
  exit 1
fi

report=$out/report.tsv
printf 'glib\tsource\tloaded\tdirect_reads' > "$report.new"
for s in "${suites[@]}"; do printf '\t%s' "$s" >> "$report.new"; done
printf '\tseconds\n' >> "$report.new"
any_failed=0

# Results of one suite from a meson test log: "pass N", "FAIL k/N" or
# "skip" (every test skipped) or "-" (no test of that suite ran).
suite_result() {
  python3 - "$1" "$2" <<'PY'
import json, sys
log, suite = sys.argv[1], sys.argv[2]
n = bad = skipped = 0
try:
    lines = open(log).read().splitlines()
except OSError:
    lines = []
for line in lines:
    t = json.loads(line)
    # "project:suite / test" (meson 1.0 has no "suite" field).
    suites = t.get("suite") or t["name"].split(" / ")[0].split(":")[-1].split("+")
    if not any(s.split(":")[-1] == suite for s in suites):
        continue
    n += 1
    r = t["result"]
    if r == "SKIP":
        skipped += 1
    elif r not in ("OK", "EXPECTEDFAIL"):
        bad += 1
if n == 0:
    print("-")
elif bad:
    print(f"FAIL {bad}/{n}")
elif skipped == n:
    print("skip")
else:
    print(f"pass {n - skipped}/{n}" + (f" ({skipped} skipped)" if skipped else ""))
PY
}

# glib-info's verdict line and loaded GLib, from its output.
info_field() { sed -n "s/^$1 //p" "$2" | head -n1; }

row() {
  local label=$1 source=$2 bd=$3 info=$4 t_row=$5
  shift 5
  local loaded direct
  loaded=$(info_field glib-running "$info")
  direct=$(info_field direct-reads "$info")
  printf '%s\t%s\t%s\t%s' "$label" "$source" "${loaded:-?}" "${direct:-?}" >> "$report.new"
  local s r
  for s in "${suites[@]}"; do
    r=$(suite_result "$bd/meson-logs/testlog-$s.json" "$s")
    [ "$r" = - ] && r=$(suite_result "$bd/meson-logs/testlog.json" "$s")
    case $r in FAIL*|-) any_failed=1 ;; esac
    printf '\t%s' "$r" >> "$report.new"
  done
  printf '\t%s\n' "$t_row" >> "$report.new"
}

run_version() {
  local ver=$1 prefix=$2 bd=$3 want=$4
  local t_row=$SECONDS
  local log=$out/$ver.log
  : > "$log"
  echo "=== glib-matrix: GLib $ver: gsend build in $bd"
  # A fresh build starts from a copy of the system build's cargo target
  # directory: only the crates that link GLib are rebuilt, not cbindgen's
  # dependencies.
  local seed=${GSEND_MATRIX_SYSTEM_BUILDDIR:-$root/_build}/cargo-target
  if [ ! -d "$bd/cargo-target" ] && [ -d "$seed" ] && [ "$bd" != "${seed%/cargo-target}" ]; then
    mkdir -p "$bd"
    cp -a "$seed" "$bd/cargo-target"
  fi
  (
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    export LD_LIBRARY_PATH=$prefix/lib
    if [ ! -f "$bd/build.ninja" ]; then
      meson setup "$bd" --buildtype=release -Dintrospection=disabled \
        -Dglib_tests_dir="$prefix/libexec/installed-tests/glib" >> "$log" 2>&1
    else
      meson setup --reconfigure "$bd" >> "$log" 2>&1
    fi &&
    meson compile -C "$bd" >> "$log" 2>&1
  ) || { echo "glib-matrix: GLib $ver: gsend build FAILED (log: $log)"; tail -n 30 "$log"; any_failed=1; }
  echo "=== glib-matrix: GLib $ver: build done after $((SECONDS - t_row)) s"
  # Which GLib the binaries load, and the probe's verdict.
  local info=$out/$ver.glib-info
  LD_LIBRARY_PATH=$prefix/lib "$bd/tests/c/glib-info" > "$info" 2>&1
  cat "$info"
  local gio_path
  gio_path=$(readlink -f "$(info_field libgio "$info")" 2>/dev/null || true)
  if [ "$(info_field glib-running "$info")" != "$want" ] ||
     [ "${gio_path#"$(readlink -f "$prefix")"/}" = "$gio_path" ]; then
    echo "glib-matrix: GLib $ver: the binaries do not load GLib $want from $prefix (see $info)"
    echo "error: not the GLib of $prefix" >> "$info"
    any_failed=1
  fi
  local s t sel
  for s in "${suites[@]}"; do
    t=$SECONDS
    # The diff suite's three runs of test-diff differ only in gsend's
    # layout and GSO choices, not in GIO: one of them here (all three on
    # the system GLib), with the ECN tests.
    sel=(--suite "$s")
    [ "$s" = diff ] && sel=(${GSEND_MATRIX_DIFF_TESTS:-diff diff-ecn diff-ecn-gso-off})
    LD_LIBRARY_PATH=$prefix/lib PKG_CONFIG_PATH=$prefix/lib/pkgconfig GSEND_EXPECT_DIRECT_READS= \
      meson test -C "$bd" "${sel[@]}" --num-processes 2 --print-errorlogs \
      >> "$log" 2>&1
    cp "$bd/meson-logs/testlog.json" "$bd/meson-logs/testlog-$s.json" 2>/dev/null
    local result
    result=$(suite_result "$bd/meson-logs/testlog-$s.json" "$s")
    echo "=== glib-matrix: GLib $ver: suite $s: $result in $((SECONDS - t)) s"
    # A failure's own output goes to the console too: a CI log shows what
    # failed without the build directory.
    case $result in
      pass*|skip|-) ;;
      *) show_failures "$bd/meson-logs/testlog-$s.json" ;;
    esac
  done
  row "$ver" "Debian glib2.0 $ver" "$bd" "$info" "$((SECONDS - t_row))"
}

# Prints name, result and the last lines of output of every test in a
# meson test log that did not pass or skip.
show_failures() {
  python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
        continue
    print(f"--- {t['name']}: {t.get('result')} (exit {t.get('returncode')}, {t.get('duration', 0):.1f} s)")
    out = ((t.get("stdout") or "") + "\n" + (t.get("stderr") or "")).splitlines()
    for l in out[-120:]:
        print("    " + l)
PY
}

# The system GLib.
sysver=$(pkg-config --modversion glib-2.0 2>/dev/null || echo "?")
sysbd=${GSEND_MATRIX_SYSTEM_BUILDDIR:-}
if [ -n "$sysbd" ] && [ -f "$sysbd/meson-logs/testlog.json" ]; then
  echo "=== glib-matrix: system GLib $sysver: results of $sysbd"
  "$sysbd/tests/c/glib-info" > "$out/system.glib-info" 2>&1
  cat "$out/system.glib-info"
  for s in "${suites[@]}"; do rm -f "$sysbd/meson-logs/testlog-$s.json"; done
  row "$sysver (system)" "Debian 12 package" "$sysbd" "$out/system.glib-info" "-"
else
  run_version system "$(pkg-config --variable=prefix glib-2.0)" "$out/system" "$sysver"
  sed -i "s/^system\t/$sysver (system)\t/; s/Debian glib2.0 system/Debian 12 package/" "$report.new"
fi

for v in "${versions[@]}"; do
  up=${v#*:}; up=${up%%-*}; up=${up%%+*}
  run_version "$v" "$cache/$v/prefix" "$out/$v" "$up"
done

mv "$report.new" "$report"
echo "=== glib-matrix: report $report (whole matrix: $((SECONDS - t_all)) s)"
column -t -s $'\t' "$report"
python3 scripts/glib-matrix-table.py "$report" README.md
exit "$any_failed"
