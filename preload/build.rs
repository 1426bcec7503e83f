//! Names the shared object by the file name users put in `LD_PRELOAD`.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgsend-preload.so");
}
