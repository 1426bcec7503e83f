//! The version of the running library (`gsend_get_*_version`,
//! `gsend_check_version`), taken from Cargo's package version, which
//! meson.build's project version must equal.

use crate::{gchar, guint};

/// Parses one decimal component of the package version at compile time.
const fn component(s: &str) -> guint {
    let bytes = s.as_bytes();
    let mut value: guint = 0;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "version components are decimal");
        value = value * 10 + (bytes[i] - b'0') as guint;
        i += 1;
    }
    value
}

const MAJOR: guint = component(env!("CARGO_PKG_VERSION_MAJOR"));
const MINOR: guint = component(env!("CARGO_PKG_VERSION_MINOR"));
const MICRO: guint = component(env!("CARGO_PKG_VERSION_PATCH"));

/// Why a required version is refused (static, NUL-terminated).
fn mismatch(required_major: guint, required_minor: guint, required_micro: guint) -> Option<&'static [u8]> {
    if required_major != MAJOR {
        Some(b"gsend major version mismatch\0")
    } else if (required_minor, required_micro) > (MINOR, MICRO) {
        Some(b"gsend version too old (minor or micro mismatch)\0")
    } else {
        None
    }
}

/// gsend_get_major_version:
///
/// The major version of the gsend library the program runs with, which
/// may differ from %GSEND_MAJOR_VERSION, the version of the headers it was
/// compiled against.
///
/// Returns: the major version of the running library
///
/// Since: 0.1
#[no_mangle]
pub extern "C" fn gsend_get_major_version() -> guint {
    MAJOR
}

/// gsend_get_minor_version:
///
/// The minor version of the gsend library the program runs with (see
/// gsend_get_major_version()).
///
/// Returns: the minor version of the running library
///
/// Since: 0.1
#[no_mangle]
pub extern "C" fn gsend_get_minor_version() -> guint {
    MINOR
}

/// gsend_get_micro_version:
///
/// The micro version of the gsend library the program runs with (see
/// gsend_get_major_version()).
///
/// Returns: the micro version of the running library
///
/// Since: 0.1
#[no_mangle]
pub extern "C" fn gsend_get_micro_version() -> guint {
    MICRO
}

/// gsend_check_version:
/// @required_major: the required major version
/// @required_minor: the required minor version
/// @required_micro: the required micro version
///
/// Checks at run time that the gsend library in use is compatible with the
/// given version: its major version is @required_major, and its minor and
/// micro versions are at least @required_minor and @required_micro (the
/// minor version compared first). Pass %GSEND_MAJOR_VERSION,
/// %GSEND_MINOR_VERSION and %GSEND_MICRO_VERSION to check that the library
/// is at least as new as the headers the program was compiled against.
///
/// Returns: (transfer none) (nullable): %NULL if the library is
///   compatible, or a string saying why it is not. The string belongs to
///   gsend and must not be modified or freed.
///
/// Since: 0.1
#[no_mangle]
pub extern "C" fn gsend_check_version(
    required_major: guint,
    required_minor: guint,
    required_micro: guint,
) -> *const gchar {
    // Comparing integers cannot panic; the guard keeps the rule that no
    // panic crosses the C boundary.
    std::panic::catch_unwind(|| mismatch(required_major, required_minor, required_micro))
        .unwrap_or(Some(b"gsend: internal error\0"))
        .map_or(std::ptr::null(), |s| s.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_cargo_s() {
        let v = format!("{MAJOR}.{MINOR}.{MICRO}");
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn check_version_follows_glib_s_rule() {
        assert!(mismatch(MAJOR, MINOR, MICRO).is_none());
        assert!(mismatch(MAJOR, 0, 0).is_none());
        assert!(mismatch(MAJOR, MINOR, MICRO + 1).is_some());
        assert!(mismatch(MAJOR, MINOR + 1, 0).is_some());
        assert!(mismatch(MAJOR + 1, 0, 0).is_some());
        if let Some(micro) = MICRO.checked_sub(1) {
            assert!(mismatch(MAJOR, MINOR, micro).is_none());
        }
        if let Some(minor) = MINOR.checked_sub(1) {
            assert!(mismatch(MAJOR, minor, MICRO + 5).is_none());
        }
        assert!(gsend_check_version(MAJOR, MINOR, MICRO).is_null());
        let s = gsend_check_version(MAJOR + 1, 0, 0);
        // SAFETY: a static NUL-terminated string.
        let s = unsafe { std::ffi::CStr::from_ptr(s) };
        assert!(s.to_str().expect("ASCII").contains("major"));
    }
}
