#!/usr/bin/env python3
# gir-set-library.py INPUT OUTPUT LIBRARY
#
# Writes the GIR INPUT to OUTPUT with its namespace's shared-library set to
# LIBRARY. The installed GIR and typelib name the installed libgsend.so.1 by
# its full path, so that a program only needs GI_TYPELIB_PATH to use gsend
# from any prefix (the scanner writes the bare soname).

import re
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gir-set-library.py INPUT OUTPUT LIBRARY")
    source, output, library = sys.argv[1:]
    with open(source, encoding="utf-8") as f:
        text = f.read()
    pattern = re.compile(r'(<namespace\b[^>]*?\bshared-library=")([^"]*)(")', re.S)
    escaped = library.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    text, n = pattern.subn(lambda m: m.group(1) + escaped + m.group(3), text)
    if n != 1:
        sys.exit(f"gir-set-library.py: expected one shared-library attribute in {source}, found {n}")
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
