#!/usr/bin/env python3
# Meson's bridge to cargo: builds the static libraries of the workspace's two
# C-facing crates, which meson then links into libgsend.so.1 and
# libgsend-preload.so (see meson.build).
#
#   cargo-build.py --cargo CARGO --manifest-dir DIR --target-dir DIR
#                  --profile release|dev --debuginfo 0|1
#                  --output-gsend OUT.a --output-preload OUT.a
#
# Each crate is built with `cargo rustc --crate-type staticlib`, so only the
# static library is produced (`cargo build` on its own still gives the
# cdylib named in Cargo.toml). Cargo.lock is always honoured (--locked);
# in a release tarball, whose crates are vendored (vendor/ next to
# Cargo.toml), cargo also works offline.
#
# Outputs are replaced only when their content changes (atomically, by
# rename), so ninja, which re-stats outputs of custom commands, relinks
# nothing when cargo had nothing to do.

import argparse
import filecmp
import os
import shutil
import subprocess
import sys

# package -> file name of its static library under target/<profile>/
CRATES = {"gsend": "libgsend.a", "gsend-preload": "libgsend_preload.a"}


def update(source, output):
    """Copies source to output unless output already has the same bytes."""
    if not os.path.isfile(source):
        sys.exit(f"cargo-build.py: {source} was not produced")
    if os.path.isfile(output) and filecmp.cmp(source, output, shallow=False):
        return
    tmp = output + ".tmp"
    shutil.copyfile(source, tmp)
    os.replace(tmp, output)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cargo", required=True)
    parser.add_argument("--manifest-dir", required=True)
    parser.add_argument("--target-dir", required=True)
    parser.add_argument("--profile", default="release")
    parser.add_argument("--debuginfo", default="0")
    parser.add_argument("--output-gsend", required=True)
    parser.add_argument("--output-preload", required=True)
    args = parser.parse_args()

    env = dict(os.environ)
    # Meson's `debug` option decides whether the Rust code carries debug
    # information (a release build installs a library without it).
    env[f"CARGO_PROFILE_{args.profile.upper()}_DEBUG"] = args.debuginfo
    vendored = os.path.isdir(os.path.join(args.manifest_dir, "vendor"))
    profile_dir = "debug" if args.profile == "dev" else args.profile
    outputs = {"gsend": args.output_gsend, "gsend-preload": args.output_preload}
    for package, filename in CRATES.items():
        cmd = [
            args.cargo, "rustc",
            "--manifest-path", os.path.join(args.manifest_dir, "Cargo.toml"),
            "--target-dir", args.target_dir,
            "--package", package, "--lib",
            "--crate-type", "staticlib",
            "--profile", args.profile,
            "--locked",
        ]
        if vendored:
            cmd.append("--offline")
        # Messages go to stderr so that ninja shows them with the step. The
        # working directory is the source root so that its .cargo/config.toml
        # (vendored sources in a tarball) applies.
        result = subprocess.run(cmd, cwd=args.manifest_dir, env=env, stdout=sys.stderr)
        if result.returncode != 0:
            sys.exit(f"cargo-build.py: {' '.join(cmd)} failed ({result.returncode})")
        update(os.path.join(args.target_dir, profile_dir, filename), outputs[package])


if __name__ == "__main__":
    main()
