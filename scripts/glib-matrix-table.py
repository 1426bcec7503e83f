#!/usr/bin/env python3
"""Rewrites README.md's GLib compatibility table from the matrix report.

usage: glib-matrix-table.py REPORT.tsv README.md

REPORT.tsv is scripts/glib-matrix.sh's report (one line per GLib). The
table replaces what lies between the lines
    <!-- glib-matrix table: begin -->
    <!-- glib-matrix table: end -->
in README.md; the markers must be there (exit 1 otherwise).
"""

import re
import sys

BEGIN = "<!-- glib-matrix table: begin -->"
END = "<!-- glib-matrix table: end -->"


def version_key(v):
    return [int(x) for x in re.findall(r"\d+", v.split()[0])[:3]]


def cell(v):
    # "pass 14/14 (2 skipped)" -> "pass (14/14, 2 skipped)"; keep it short.
    m = re.match(r"pass (\d+)/(\d+)(?: \((\d+) skipped\))?$", v)
    if m:
        return "pass" + (f" ({m.group(3)} skipped)" if m.group(3) else "")
    if v.startswith("FAIL"):
        return "**" + v + "**"
    return v


def main():
    report, readme = sys.argv[1], sys.argv[2]
    lines = [l.rstrip("\n").split("\t") for l in open(report) if l.strip()]
    head, rows = lines[0], lines[1:]
    suites = head[4:-1]
    rows.sort(key=lambda r: version_key(r[2] if r[2] != "?" else r[0]))
    out = [BEGIN, ""]
    out.append("| GLib | from | direct `GSocketPrivate` reads | " + " | ".join(suites) + " |")
    out.append("|---|---|---|" + "---|" * len(suites))
    for r in rows:
        glib = r[2] if r[2] != "?" else r[0]
        out.append(
            f"| {glib} | {r[1]} | {r[3]} | " + " | ".join(cell(c) for c in r[4:4 + len(suites)]) + " |"
        )
    out += ["", END]
    text = open(readme).read()
    a, b = text.find(BEGIN), text.find(END)
    if a < 0 or b < a:
        print(f"glib-matrix-table: no '{BEGIN}' ... '{END}' in {readme}", file=sys.stderr)
        return 1
    new = text[:a] + "\n".join(out) + text[b + len(END):]
    if new != text:
        open(readme, "w").write(new)
        print(f"glib-matrix-table: {readme}: table rewritten")
    else:
        print(f"glib-matrix-table: {readme}: table unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
