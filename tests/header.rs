//! The committed header is what cbindgen generates from the source, and the
//! version cargo builds is the one meson.build declares.

use std::path::PathBuf;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/gsend.h"));

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include").join("gsend.h")
}

/// Compares bytes of two files, not what a version control system thinks.
#[test]
fn committed_header_matches_generated() {
    let path = committed_path();
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        committed == GENERATED,
        "include/gsend.h differs from what cbindgen generates: run `cargo update-header` \
         (or `meson compile -C <builddir> update-header`) and commit include/gsend.h"
    );
}

/// Run by `cargo update-header` (see .cargo/config.toml): writes the
/// generated header over include/gsend.h.
#[test]
#[ignore = "writes include/gsend.h; run it with `cargo update-header`"]
fn update_header() {
    let path = committed_path();
    if std::fs::read_to_string(&path).ok().as_deref() != Some(GENERATED) {
        std::fs::write(&path, GENERATED).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("updated {}", path.display());
    }
}

/// meson.build's `project(... version: 'X.Y.Z' ...)` is the project's
/// version; Cargo's workspace version must say the same.
#[test]
fn cargo_version_matches_meson() {
    let meson = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/meson.build")).expect("meson.build");
    let project = &meson[meson.find("project(").expect("a project() call")..];
    let rest = &project[project.find("version:").expect("project() has a version") + "version:".len()..];
    let quoted = rest.trim_start().strip_prefix('\'').expect("a quoted version");
    let version = &quoted[..quoted.find('\'').expect("closing quote")];
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "meson.build and Cargo.toml disagree on the version");
}
