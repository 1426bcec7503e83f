#!/usr/bin/env python3
# Meson's bridge to cargo: the Rust code of gsend is built once, by cargo,
# and the libraries it produces are put where meson expects its outputs.
#
#   cargo-build.py build --cargo CARGO --manifest-dir DIR --target-dir DIR
#                        --profile release --output .../libgsend.so.1
#       runs `cargo build` for the workspace's two C libraries (packages
#       gsend and gsend-preload) and installs target/<profile>/libgsend.so
#       as the output (its soname is libgsend.so.1, set by build.rs).
#
#   cargo-build.py copy SOURCE OUTPUT
#       copies a file cargo produced (e.g. libgsend_preload.so) to a meson
#       output (libgsend-preload.so).
#
#   cargo-build.py symlink TARGET OUTPUT
#       makes OUTPUT a relative symlink to TARGET (libgsend.so ->
#       libgsend.so.1), the name the linker looks for with -lgsend.
#
# Outputs are replaced only when their content changes (atomically, by
# rename), so ninja, which re-stats outputs of custom commands, rebuilds
# nothing downstream when cargo had nothing to do.

import argparse
import filecmp
import os
import shutil
import subprocess
import sys

# The packages of the workspace whose libraries meson installs.
PACKAGES = ["gsend", "gsend-preload"]


def update(source, output):
    """Copies source to output unless output already has the same bytes."""
    if not os.path.isfile(source):
        sys.exit(f"cargo-build.py: {source} was not produced")
    if os.path.isfile(output) and not os.path.islink(output) and filecmp.cmp(source, output, shallow=False):
        return
    tmp = output + ".tmp"
    # A fresh modification time, so that ninja sees the change.
    shutil.copyfile(source, tmp)
    shutil.copymode(source, tmp)
    os.replace(tmp, output)


def symlink(target, output):
    if os.path.islink(output) and os.readlink(output) == target:
        return
    tmp = output + ".tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, output)


def build(args):
    cmd = [
        args.cargo,
        "build",
        "--manifest-path",
        os.path.join(args.manifest_dir, "Cargo.toml"),
        "--target-dir",
        args.target_dir,
        "--lib",
    ]
    for p in PACKAGES:
        cmd += ["-p", p]
    if args.profile == "release":
        cmd.append("--release")
    elif args.profile != "dev":
        cmd += ["--profile", args.profile]
    # Messages go to stderr so that ninja shows them with the step.
    result = subprocess.run(cmd, cwd=args.manifest_dir, stdout=sys.stderr)
    if result.returncode != 0:
        sys.exit(f"cargo-build.py: {' '.join(cmd)} failed ({result.returncode})")
    profile_dir = "debug" if args.profile == "dev" else args.profile
    update(os.path.join(args.target_dir, profile_dir, "libgsend.so"), args.output)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--cargo", required=True)
    b.add_argument("--manifest-dir", required=True)
    b.add_argument("--target-dir", required=True)
    b.add_argument("--profile", default="release")
    b.add_argument("--output", required=True)
    c = sub.add_parser("copy")
    c.add_argument("source")
    c.add_argument("output")
    s = sub.add_parser("symlink")
    s.add_argument("target")
    s.add_argument("output")
    args = parser.parse_args()
    if args.command == "build":
        build(args)
    elif args.command == "copy":
        update(args.source, args.output)
    else:
        symlink(args.target, args.output)


if __name__ == "__main__":
    main()
