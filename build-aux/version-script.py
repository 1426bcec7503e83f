#!/usr/bin/env python3
# version-script.py HEADER OUTPUT
#
# Writes a linker version script that exports exactly the gsend_ functions
# declared in HEADER (include/gsend.h) and hides everything else the Rust
# static library holds (the standard library, the engine). Together with
# --no-undefined-version, a function declared but not defined fails the link.

import re
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: version-script.py HEADER OUTPUT")
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    # Declarations start a line: a return type, then the name and "(".
    names = sorted(set(re.findall(r"^[A-Za-z_][\w \t*]*?\b(gsend_\w+)\(", text, re.M)))
    if not names:
        sys.exit(f"version-script.py: no gsend_ function declared in {sys.argv[1]}")
    lines = ["/* Generated from gsend.h by build-aux/version-script.py */", "{", "  global:"]
    lines += [f"    {n};" for n in names]
    lines += ["  local:", "    *;", "};", ""]
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
