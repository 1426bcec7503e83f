//! Argument checks, worded as GIO's `g_return_val_if_fail` words them.
//!
//! Every check goes through [`return_val_if_fail!`], which holds the
//! checked expression and the critical's text in one call: the text is
//! either `stringify!` of the expression itself or, where the Rust
//! expression reads differently from GIO's C check, GIO's C text written
//! right before the expression it stands for (`"G_IS_SOCKET (socket)" =>
//! is_a(socket.cast(), socket_type())`). The C tests and the differential
//! tests compare these texts with GIO's own.

use std::ffi::CStr;

use gio_sys as gio;
use glib_sys as glib;

use crate::errors::Style;
use crate::glue::{self, is_a};
use crate::socket::socket_type;

/// Checks a precondition: when `cond` is false, emits the critical
/// `g_return_val_if_fail` would (through [`glue::critical`], in the
/// domain and under the function name of `style`, which come from the
/// export set's [`names`](crate::names)) and returns `ret` from the
/// enclosing function.
///
/// - `return_val_if_fail!(style, ret, cond)`: the text is `cond` as written.
/// - `return_val_if_fail!(style, ret, "C text" => cond)`: the text is GIO's
///   C text for the same check, given next to it.
/// - `..., "C text" => cond, cleanup { ... })`: runs the block before
///   returning (for checks on results that own memory).
macro_rules! return_val_if_fail {
    ($style:expr, $ret:expr, $text:literal => $cond:expr, cleanup $cleanup:block) => {
        if !($cond) {
            $style.critical(const { $crate::checks::c_text(concat!($text, "\0")) });
            $cleanup
            return $ret;
        }
    };
    ($style:expr, $ret:expr, $text:literal => $cond:expr) => {
        if !($cond) {
            $style.critical(const { $crate::checks::c_text(concat!($text, "\0")) });
            return $ret;
        }
    };
    ($style:expr, $ret:expr, $cond:expr) => {
        if !($cond) {
            $style.critical(const { $crate::checks::c_text(concat!(stringify!($cond), "\0")) });
            return $ret;
        }
    };
}
pub(crate) use return_val_if_fail;

/// The same check for the message readers (`message.rs`), which report
/// instead of emitting: when `cond` is false, returns
/// `Err(DescribeError::Programming(text))` from the enclosing function, and
/// whoever called the reader emits that text as the critical. The forms
/// are [`return_val_if_fail!`]'s: `describe_if_fail!(cond)` (the text is
/// `cond` as written) or `describe_if_fail!("C text" => cond)`.
macro_rules! describe_if_fail {
    ($text:literal => $cond:expr) => {
        if !($cond) {
            return Err($crate::message::DescribeError::Programming(
                const { $crate::checks::c_text(concat!($text, "\0")) },
            ));
        }
    };
    ($cond:expr) => {
        if !($cond) {
            return Err($crate::message::DescribeError::Programming(
                const { $crate::checks::c_text(concat!(stringify!($cond), "\0")) },
            ));
        }
    };
}
pub(crate) use describe_if_fail;

/// A check's text as a C string, at compile time.
pub(crate) const fn c_text(text: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(text.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("a check's text holds a NUL"),
    }
}

/// `GCancellable`'s type, looked up once.
#[inline]
pub(crate) fn cancellable_type() -> glib::GType {
    static T: glue::Cached = glue::Cached::new();
    // SAFETY: a type getter.
    T.get(|| unsafe { gio::g_cancellable_get_type() })
}

/// The argument checks shared by the batch functions. Emits the critical
/// and returns false on the first failure.
///
/// # Safety
/// `socket` and `cancellable` are NULL or GObjects; `error` is NULL or a
/// valid `GError**`.
#[inline(always)]
pub(crate) unsafe fn batch_preconditions(
    style: &Style,
    socket: *mut gio::GSocket,
    has_messages: bool,
    n: usize,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut glib::GError,
) -> bool {
    // SAFETY: pointers are NULL or GObjects per the API contract; each is
    // checked before it is read.
    unsafe {
        return_val_if_fail!(style, false, "G_IS_SOCKET (socket)" => is_a(socket.cast(), socket_type()));
        return_val_if_fail!(style, false, "num_messages == 0 || messages != NULL" => n == 0 || has_messages);
        return_val_if_fail!(style, false, "cancellable == NULL || G_IS_CANCELLABLE (cancellable)" =>
            cancellable.is_null() || is_a(cancellable.cast(), cancellable_type()));
        return_val_if_fail!(style, false, "error == NULL || *error == NULL" => error.is_null() || (*error).is_null());
    }
    true
}
