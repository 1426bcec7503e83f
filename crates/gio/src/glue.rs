//! Small pieces of GLib/GObject glue: type checks, criticals, GErrors, the
//! panic boundary.

use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;

/// A value of an idempotent, thread-safe getter (a GType, a quark, a
/// setting read from the environment), cached without a lock.
///
/// Why no `OnceLock`: a lock that one thread holds while another calls
/// `fork()` stays held in the child, whose first use would then wait for
/// it forever (docs/behaviour.md "Signals and fork"). Here no thread ever
/// waits for another: a thread that finds the value unset calls the getter
/// itself (two threads may both call it; both get the same value) and
/// stores it. 0 means unset, so the getter must never return 0 (no GType
/// or quark is 0).
pub struct Cached(std::sync::atomic::AtomicUsize);

impl Cached {
    /// Unset.
    pub const fn new() -> Self {
        Cached(std::sync::atomic::AtomicUsize::new(0))
    }

    /// The value, from the getter on first use.
    #[inline(always)]
    pub fn get(&self, getter: impl FnOnce() -> usize) -> usize {
        use std::sync::atomic::Ordering;
        match self.0.load(Ordering::Relaxed) {
            0 => self.fill(getter),
            v => v,
        }
    }

    #[cold]
    fn fill(&self, getter: impl FnOnce() -> usize) -> usize {
        let v = getter();
        debug_assert_ne!(v, 0);
        self.0.store(v, std::sync::atomic::Ordering::Relaxed);
        v
    }
}

impl Default for Cached {
    fn default() -> Self {
        Cached::new()
    }
}

/// Whether the environment variable `name` passes `test` (read once into
/// `cell`, with libc's `getenv`: `std::env`'s lock could be left held by
/// a fork).
pub fn env_switch(cell: &Cached, name: &CStr, test: fn(&CStr) -> bool) -> bool {
    cell.get(|| {
        // SAFETY: a NUL-terminated name; the result is NULL or a C string.
        let v = unsafe { libc::getenv(name.as_ptr()) };
        // SAFETY: as above.
        let on = !v.is_null() && test(unsafe { CStr::from_ptr(v) });
        if on {
            2
        } else {
            1
        }
    }) == 2
}

/// Log domain of `libgsend.so.1` (criticals, the layout probe's debug message).
pub const DOMAIN: &CStr = c"GSend";

/// Whether `p` is an instance of `ty` (NULL is not).
///
/// # Safety
/// `p` is NULL or points to a GTypeInstance.
#[inline]
pub unsafe fn is_a(p: *const libc::c_void, ty: glib::GType) -> bool {
    // SAFETY: per the contract, p is NULL (checked) or a GTypeInstance,
    // whose class pointer is NULL or a class.
    unsafe {
        if p.is_null() {
            return false;
        }
        let class = (*(p as *const gobject::GTypeInstance)).g_class;
        // The exact type is the common case and needs no call.
        (!class.is_null() && (*class).g_type == ty)
            || gobject::g_type_check_instance_is_a(p as *mut gobject::GTypeInstance, ty) != 0
    }
}

/// The exact (most derived) type of an instance.
///
/// # Safety
/// `p` points to a live GTypeInstance.
pub unsafe fn type_of(p: *const libc::c_void) -> glib::GType {
    // SAFETY: a GTypeInstance starts with its class pointer, whose first
    // field is the type.
    unsafe { (*(*(p as *const gobject::GTypeInstance)).g_class).g_type }
}

/// Emits the critical `g_return_val_if_fail` would in `domain` (see
/// `names` for which domain and name each export set uses).
pub fn critical(domain: &CStr, func: &CStr, expr: &CStr) {
    // SAFETY: three valid NUL-terminated strings.
    unsafe { glib::g_return_if_fail_warning(domain.as_ptr(), func.as_ptr(), expr.as_ptr()) }
}

/// Sets `*error` (if `error` is not NULL) to a `G_IO_ERROR` with `code`.
///
/// # Safety
/// `error` is NULL or a valid `GError**` whose target is NULL.
pub unsafe fn set_io_error(error: *mut *mut glib::GError, code: c_int, message: &str) {
    if error.is_null() {
        return;
    }
    let msg = std::ffi::CString::new(message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: error is a valid out location; the strings are valid.
    unsafe { glib::g_set_error_literal(error, gio::g_io_error_quark(), code, msg.as_ptr()) }
}

/// [`set_io_error`] with a literal message: no allocation of gsend's own
/// (for errors about running out of memory).
///
/// # Safety
/// As for [`set_io_error`].
pub unsafe fn set_io_error_literal(error: *mut *mut glib::GError, code: c_int, message: &CStr) {
    if error.is_null() {
        return;
    }
    // SAFETY: error is a valid out location; the string is valid.
    unsafe { glib::g_set_error_literal(error, gio::g_io_error_quark(), code, message.as_ptr()) }
}

/// The system's text for `errno`, as GLib gives it.
pub fn strerror(errno: i32) -> String {
    // SAFETY: g_strerror returns a static, NUL-terminated UTF-8 string.
    unsafe { CStr::from_ptr(glib::g_strerror(errno)) }.to_string_lossy().into_owned()
}

/// The `GIOErrorEnum` code GIO maps `errno` to.
pub fn io_error_code(errno: i32) -> c_int {
    // SAFETY: a pure function.
    unsafe { gio::g_io_error_from_errno(errno) }
}

/// Runs `f`, turning a panic into `G_IO_ERROR_FAILED` and `on_panic`.
///
/// # Safety
/// `error` is NULL or a valid `GError**`.
pub unsafe fn guard<R>(error: *mut *mut glib::GError, on_panic: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            // SAFETY: error is NULL or valid per the contract; only set if
            // the failing body left it unset.
            unsafe {
                if !error.is_null() && (*error).is_null() {
                    set_io_error(error, gio::G_IO_ERROR_FAILED, "gsend: internal error");
                }
            }
            on_panic
        }
    }
}

/// A NUL-terminated C string for criticals, from a literal.
pub type Expr = &'static CStr;

/// `const char*` of an `Expr`.
pub fn c(e: Expr) -> *const c_char {
    e.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rule 15: a panic inside an entry point becomes G_IO_ERROR_FAILED and
    // the entry point's failure value; it never unwinds into C.
    #[test]
    fn a_panic_becomes_g_io_error_failed() {
        let mut error: *mut glib::GError = std::ptr::null_mut();
        // SAFETY: error is a valid, unset location.
        let r = unsafe { guard(&mut error, -1, || -> i32 { panic!("injected") }) };
        assert_eq!(r, -1);
        assert!(!error.is_null());
        // SAFETY: error was just set by guard.
        unsafe {
            assert_eq!((*error).domain, gio::g_io_error_quark());
            assert_eq!((*error).code, gio::G_IO_ERROR_FAILED);
            glib::g_error_free(error);
        }
        // Without an error location the failure value still comes back.
        // SAFETY: NULL is allowed.
        let r = unsafe { guard(std::ptr::null_mut(), 7u8, || -> u8 { panic!("injected") }) };
        assert_eq!(r, 7);
        // And a normal result passes through untouched.
        // SAFETY: as above.
        assert_eq!(unsafe { guard(std::ptr::null_mut(), 0, || 42) }, 42);
    }
}
