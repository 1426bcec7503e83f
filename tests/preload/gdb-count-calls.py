# Loaded by gdb (gdb -x gdb-count-calls.py): counts, per shared object, the
# calls made to each of GIO's seven send names while the program runs, and
# prints one "COUNT <name> in <object>: <n>" line per pair at exit.
# A breakpoint on a name gets one location in every object defining it
# (libgio and, under LD_PRELOAD, libgsend-preload.so), so the counts show
# which implementation each call really reached, including calls made from
# inside libgio that the dynamic linker never sees.
import collections

import gdb
from sendnames import SEVEN as NAMES  # run-call-counts.py puts this folder on sys.path

counts = collections.Counter()


class Counter(gdb.Breakpoint):
    def stop(self):
        pc = gdb.selected_frame().pc()
        counts[(self.location, gdb.solib_name(pc) or "main program")] += 1
        return False  # never stop, just count


def report(event):
    for (name, obj), n in sorted(counts.items()):
        print(f"COUNT {name} in {obj}: {n}", flush=True)
    print("COUNT-END", flush=True)


gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("set breakpoint pending on")
gdb.execute("set detach-on-fork on")
gdb.execute("set follow-fork-mode parent")
for n in NAMES:
    Counter(n)
gdb.events.exited.connect(report)
