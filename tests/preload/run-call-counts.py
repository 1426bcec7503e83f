#!/usr/bin/env python3
# Counts, with gdb breakpoints, which implementation each call to GIO's
# seven send names reaches when a program runs with
# LD_PRELOAD=libgsend-preload.so: the shim's (gsend) or libgio's own.
#
# LD_DEBUG=bindings (run-glib-tests.py) shows what the dynamic linker bound;
# this shows what was actually executed, and so also the calls libgio makes
# to its own send functions (GSocketOutputStream, GUnixConnection, the GDBus
# worker, ...). Those are direct calls inside libgio (Debian links it with
# -Bsymbolic-functions: libgio has no dynamic relocation for these names),
# so they never reach the shim. They are printed, not failed.
#
# Checks: every program passes under gdb with the shim, and for each of the
# seven names the binary imports at least one call was executed in
# libgsend-preload.so. Programs: gio-only (all seven names), GLib's socket,
# unix-fd and proxy-test, and gdbus-peer (imports none: its counts show the
# GDBus worker's sends staying inside libgio).
#
# usage: run-call-counts.py <libgsend-preload.so> <gio-only> [installed-tests-dir]
# Exit 77 (skip) when gdb is missing or cannot trace here (ptrace denied).

import os
import re
import shutil
import subprocess
import sys
import time

from sendnames import SEVEN, report

HERE = os.path.dirname(os.path.abspath(__file__))
COUNT_RE = re.compile(r"^COUNT (\S+) in (\S+): (\d+)$", re.M)


def imported(binary):
    out = subprocess.run(["nm", "-D", "--undefined-only", binary],
                         check=True, capture_output=True, text=True).stdout
    syms = {l.split()[-1].split("@")[0] for l in out.splitlines() if l.strip()}
    return sorted(s for s in SEVEN if s in syms)


def run_under_gdb(gdb, preload, binary, env_extra):
    env = dict(os.environ)
    env.update(env_extra)
    testdir = os.path.dirname(binary)
    env.setdefault("G_TEST_SRCDIR", testdir)
    env.setdefault("G_TEST_BUILDDIR", testdir)
    cmd = [gdb, "-q", "-nx", "-batch",
           "-ex", f"set environment LD_PRELOAD {preload}",
           "-ex", f"python import sys; sys.path.insert(0, {HERE!r})",
           "-x", os.path.join(HERE, "gdb-count-calls.py"),
           "-ex", "run",
           "--args", binary, "--tap"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=testdir, env=env, capture_output=True,
                          text=True, timeout=280)
    return proc.stdout + proc.stderr, time.monotonic() - t0


def gdb_run_passed(out):
    return ("COUNT-END" in out and "exited normally" in out
            and not re.search(r"^not ok ", out, re.M) and re.search(r"^ok ", out, re.M))


def main():
    if len(sys.argv) < 3:
        print("usage: run-call-counts.py PRELOAD GIO_ONLY [DIR]", file=sys.stderr)
        return 2
    preload = os.path.abspath(sys.argv[1])
    gio_only = os.path.abspath(sys.argv[2])
    testdir = sys.argv[3] if len(sys.argv) > 3 else "/usr/libexec/installed-tests/glib"
    gdb = shutil.which("gdb")
    if not gdb:
        print("# SKIP: gdb not installed")
        return 77

    programs = [(gio_only, {"EXPECT": "shim"})]
    for name in ("socket", "unix-fd", "proxy-test", "gdbus-peer"):
        if os.access(os.path.join(testdir, name), os.X_OK):
            programs.append((os.path.join(testdir, name), {}))

    failures = []
    for binary, env_extra in programs:
        name = os.path.basename(binary)
        uses = imported(binary)
        out, dt = run_under_gdb(gdb, preload, binary, env_extra)
        if binary != gio_only and not gdb_run_passed(out):
            # A GLib test (timing-dependent cases) gets one more run; its
            # first output is shown. Our own program gets none.
            print(out)
            print(f"# --- {name}: failed under gdb; running it again (FLAKY if this run passes)")
            out, dt = run_under_gdb(gdb, preload, binary, env_extra)
        if "COUNT-END" not in out:
            if re.search(r"ptrace|Operation not permitted|not permitted", out):
                print(out)
                print("# SKIP: gdb cannot trace here")
                return 77
            print(out)
            failures.append(f"{name}: gdb run did not finish")
            continue
        n_ok = len(re.findall(r"^ok ", out, re.M))
        n_notok = len(re.findall(r"^not ok ", out, re.M))
        exited_ok = "exited normally" in out
        print(f"# --- {name}: {n_ok} ok, {n_notok} not ok, "
              f"{'exit 0' if exited_ok else 'NONZERO EXIT'}, {dt:.2f} s under gdb + LD_PRELOAD")
        if n_notok or n_ok == 0 or not exited_ok:
            print(out)
            failures.append(f"{name}: failed under gdb with the shim")
        shim, gio = {}, {}
        for sym, obj, n in COUNT_RE.findall(out):
            if os.path.basename(obj) == "libgsend-preload.so":
                shim[sym] = int(n)
            elif "libgio-2.0.so" in obj:
                gio[sym] = int(n)
            else:
                failures.append(f"{name}: {sym} ran in unexpected object {obj}")
        for sym in SEVEN:
            if sym in shim or sym in gio:
                print(f"#   {sym}: {shim.get(sym, 0)} calls reached libgsend-preload.so, "
                      f"{gio.get(sym, 0)} reached libgio"
                      + (" (calls from inside libgio: not interposable)" if gio.get(sym) else ""))
        # A name the program imports may go uncalled on a given run (the
        # bindings proof in run-glib-tests.py covers every imported name);
        # what is counted here is that the calls made reached the shim.
        for sym in uses:
            if shim.get(sym, 0) == 0:
                print(f"#   {sym}: imported, not called on this run")
        if uses and not any(shim.get(sym, 0) for sym in uses):
            failures.append(f"{name}: imports {', '.join(uses)} but no call reached the shim")
        if not uses:
            print(f"#   {name} imports none of the seven: its sends, if any, are made "
                  "inside libgio and are not routed through gsend")
    return report(failures, "every imported send name was executed in libgsend-preload.so")


if __name__ == "__main__":
    sys.exit(main())
