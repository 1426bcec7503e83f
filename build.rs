//! Generates the C header with cbindgen and sets the shared object's soname.
//!
//! The header is written to `$OUT_DIR/gsend.h` only; nothing in the source
//! tree is touched. `include/gsend.h` is the committed copy: update it with
//! `cargo update-header` (an alias in `.cargo/config.toml`) or
//! `meson compile -C _build update-header`. `tests/header.rs` fails while
//! the committed header differs from the generated one.
//!
//! The version macros at the end of the header come from the workspace
//! version in `Cargo.toml` (kept equal to meson.build's project version:
//! meson setup refuses to configure otherwise).

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets this"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // For `cargo build` on its own: the cdylib carries the installed soname.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgsend.so.1");
    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let part = |name: &str| std::env::var(name).expect("cargo sets the package version");
    let version = format!(
        "/**\n * GSEND_MAJOR_VERSION:\n *\n * The major version of the gsend headers in use.\n *\n * Since: 0.1\n */\n\
         #define GSEND_MAJOR_VERSION {}\n\n\
         /**\n * GSEND_MINOR_VERSION:\n *\n * The minor version of the gsend headers in use.\n *\n * Since: 0.1\n */\n\
         #define GSEND_MINOR_VERSION {}\n\n\
         /**\n * GSEND_MICRO_VERSION:\n *\n * The micro version of the gsend headers in use.\n *\n * Since: 0.1\n */\n\
         #define GSEND_MICRO_VERSION {}\n\n",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    );
    config.trailer = Some(version + config.trailer.as_deref().unwrap_or(""));
    let bindings = match cbindgen::Builder::new().with_crate(&dir).with_config(config).generate() {
        Ok(b) => b,
        Err(e) => panic!("cbindgen failed: {e}"),
    };
    bindings.write_to_file(out.join("gsend.h"));
}
