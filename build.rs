//! Generates the C header with cbindgen and sets the shared object's soname.
//!
//! The header is written to `$OUT_DIR/gsend.h` and, when the committed
//! `include/gsend.h` differs, copied over it (with a warning: commit it).
//! `tests/header.rs` fails while the committed header differs from the
//! generated one.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets this"));
    println!("cargo:rerun-if-changed=src/lib.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgsend.so.1");
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = match cbindgen::Builder::new().with_crate(&dir).with_config(config).generate() {
        Ok(b) => b,
        Err(e) => panic!("cbindgen failed: {e}"),
    };
    let generated = out.join("gsend.h");
    bindings.write_to_file(&generated);
    let committed = dir.join("include").join("gsend.h");
    let new = std::fs::read(&generated).expect("just written");
    if std::fs::read(&committed).ok().as_deref() != Some(new.as_slice()) {
        std::fs::create_dir_all(committed.parent().expect("has a parent")).expect("include/ can be made");
        std::fs::write(&committed, &new).expect("include/gsend.h can be written");
        println!("cargo:warning=include/gsend.h was regenerated: commit it");
    }
}
