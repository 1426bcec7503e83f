//! The committed header is what cbindgen generates from the source.

use std::process::Command;

#[test]
fn committed_header_matches_generated() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/gsend.h"));
    let root = env!("CARGO_MANIFEST_DIR");
    // What git has committed, if this is a git checkout; else the file.
    let committed = Command::new("git")
        .args(["-C", root, "show", "HEAD:include/gsend.h"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).expect("header is UTF-8"))
        .unwrap_or_else(|| std::fs::read_to_string(format!("{root}/include/gsend.h")).expect("include/gsend.h exists"));
    assert!(
        committed == generated,
        "include/gsend.h differs from what cbindgen generates: run `cargo build` and commit include/gsend.h"
    );
}
