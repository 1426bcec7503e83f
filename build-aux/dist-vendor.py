#!/usr/bin/env python3
# dist-vendor.py CARGO
#
# Run by `meson dist` in the staged tarball directory (MESON_DIST_ROOT):
# vendors every crate of Cargo.lock into vendor/ and points cargo at it
# (.cargo/config.toml), so the tarball builds with no network. The build
# (build-aux/cargo-build.py) then passes --offline --locked.
#
# The Windows import-library crates (windows_<arch>_<abi>) keep their
# manifests and sources but lose their lib/ directories (about 50 MB of
# .a/.lib files that a Linux build never reads; their checksums are dropped
# with them). gsend builds on Linux only.

import json
import os
import shutil
import subprocess
import sys

CONFIG = """
# Added by `meson dist` (build-aux/dist-vendor.py): the crates of Cargo.lock
# come from vendor/, never from the network.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"
"""


def prune_windows_libs(vendor):
    for name in sorted(os.listdir(vendor)):
        if not (name.startswith("windows_") and os.path.isdir(os.path.join(vendor, name, "lib"))):
            continue
        crate = os.path.join(vendor, name)
        shutil.rmtree(os.path.join(crate, "lib"))
        checksum_file = os.path.join(crate, ".cargo-checksum.json")
        with open(checksum_file, encoding="utf-8") as f:
            checksums = json.load(f)
        checksums["files"] = {k: v for k, v in checksums["files"].items() if not k.startswith("lib/")}
        with open(checksum_file, "w", encoding="utf-8") as f:
            json.dump(checksums, f)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dist-vendor.py CARGO")
    cargo = sys.argv[1]
    root = os.environ.get("MESON_DIST_ROOT")
    if not root:
        sys.exit("dist-vendor.py: MESON_DIST_ROOT is not set (run by meson dist)")
    vendor = os.path.join(root, "vendor")
    cmd = [cargo, "vendor", "--locked", "--manifest-path", os.path.join(root, "Cargo.toml"), vendor]
    # Cargo prints the configuration to add on stdout; ours is written below.
    result = subprocess.run(cmd, cwd=root, stdout=subprocess.DEVNULL)
    if result.returncode != 0:
        sys.exit(f"dist-vendor.py: {' '.join(cmd)} failed ({result.returncode})")
    prune_windows_libs(vendor)
    config_dir = os.path.join(root, ".cargo")
    os.makedirs(config_dir, exist_ok=True)
    with open(os.path.join(config_dir, "config.toml"), "a", encoding="utf-8") as f:
        f.write(CONFIG)


if __name__ == "__main__":
    main()
