//! How failures are worded and coded: the `GIOErrorEnum` an errno maps to
//! (with `EPIPE` as `G_IO_ERROR_CLOSED` for the batch functions), the
//! error texts with the failing message's index, and the names criticals
//! are reported under.

use std::ffi::{c_int, CStr};

use gio_sys as gio;
use glib_sys as glib;

use crate::glue::{self, set_io_error};
use crate::names::Api;

/// How a failed send is worded and coded.
#[derive(Clone, Copy)]
pub(crate) struct Style {
    /// The log domain for criticals.
    pub(crate) domain: &'static CStr,
    /// The function name for criticals.
    pub(crate) func: &'static CStr,
    /// `EPIPE` reports `G_IO_ERROR_CLOSED` (the `*_send_messages` rule)
    /// rather than GIO's `G_IO_ERROR_BROKEN_PIPE`.
    pub(crate) epipe_closed: bool,
    /// Prefix of an errno's message; the message index follows when `indexed`.
    pub(crate) what: &'static str,
    pub(crate) indexed: bool,
}

impl Style {
    /// The batch functions (`*_send_messages`, `send_datagrams`).
    pub(crate) const fn messages(api: &Api, func: &'static CStr) -> Style {
        Style { domain: api.domain, func, epipe_closed: true, what: "Error sending message", indexed: true }
    }
    /// The single-message functions (`send_message*`, `send_to`).
    pub(crate) const fn message(api: &Api, func: &'static CStr) -> Style {
        Style { domain: api.domain, func, epipe_closed: false, what: "Error sending message", indexed: false }
    }
    /// `send` and `send_with_blocking`.
    pub(crate) const fn data(api: &Api) -> Style {
        Style { domain: api.domain, func: api.data, epipe_closed: false, what: "Error sending data", indexed: false }
    }
    /// Emits the critical `g_return_val_if_fail` would for `expr`.
    pub(crate) fn critical(&self, expr: &CStr) {
        glue::critical(self.domain, self.func, expr)
    }
    /// " {index}" for the batch functions, nothing for the others.
    pub(crate) fn at(&self, index: usize) -> String {
        if self.indexed {
            format!(" {index}")
        } else {
            String::new()
        }
    }
}

/// The `GIOErrorEnum` code of a send refused by the kernel with `errno`.
pub(crate) fn error_code(style: &Style, errno: i32) -> c_int {
    if errno == libc::EPIPE && style.epipe_closed {
        gio::G_IO_ERROR_CLOSED
    } else {
        glue::io_error_code(errno)
    }
}

/// The text of a send of message `index` refused with `errno`.
pub(crate) fn os_error_text(style: &Style, index: usize, errno: i32) -> String {
    format!("{}{}: {}", style.what, style.at(index), glue::strerror(errno))
}

/// Sets the error for message `index` refused by the kernel with `errno`.
///
/// # Safety
/// `error` is NULL or a valid, unset `GError**`.
pub(crate) unsafe fn os_error(error: *mut *mut glib::GError, style: Style, index: usize, errno: i32) {
    // SAFETY: error is NULL or unset.
    unsafe { set_io_error(error, error_code(&style, errno), &os_error_text(&style, index, errno)) }
}

/// Sets the `G_IO_ERROR_WOULD_BLOCK` error of a batch that could not start.
///
/// # Safety
/// `error` is NULL or a valid, unset `GError**`.
pub(crate) unsafe fn would_block(error: *mut *mut glib::GError, style: Style) {
    // SAFETY: error is NULL or valid.
    unsafe { set_io_error(error, gio::G_IO_ERROR_WOULD_BLOCK, &os_error_text(&style, 0, libc::EAGAIN)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{Exports, GSend, Gio};

    const BATCH: Style = Style::messages(&GSend::API, GSend::API.messages);
    const ONE: Style = Style::message(&GSend::API, GSend::API.message);
    const DATA: Style = Style::data(&Gio::API);

    #[test]
    fn epipe_is_closed_for_batches_only() {
        assert_eq!(error_code(&BATCH, libc::EPIPE), gio::G_IO_ERROR_CLOSED);
        assert_eq!(error_code(&ONE, libc::EPIPE), gio::G_IO_ERROR_BROKEN_PIPE);
        assert_eq!(error_code(&DATA, libc::EPIPE), gio::G_IO_ERROR_BROKEN_PIPE);
    }

    #[test]
    fn kernel_errnos_map_as_gio_maps_them() {
        for errno in [
            libc::EAGAIN,
            libc::EMSGSIZE,
            libc::ECONNREFUSED,
            libc::ENETUNREACH,
            libc::EHOSTUNREACH,
            libc::EACCES,
            libc::EINVAL,
            libc::ENOBUFS,
            libc::EBADF,
            libc::ENOTCONN,
            libc::EDESTADDRREQ,
        ] {
            // SAFETY: a pure function.
            let gio_code = unsafe { gio::g_io_error_from_errno(errno) };
            for style in [BATCH, ONE, DATA] {
                assert_eq!(error_code(&style, errno), gio_code, "errno {errno}");
            }
        }
        assert_eq!(error_code(&BATCH, libc::EAGAIN), gio::G_IO_ERROR_WOULD_BLOCK);
        assert_eq!(error_code(&BATCH, libc::ECONNREFUSED), gio::G_IO_ERROR_CONNECTION_REFUSED);
    }

    #[test]
    fn texts_carry_the_index_for_batches_only() {
        let emsgsize = glue::strerror(libc::EMSGSIZE);
        assert_eq!(os_error_text(&BATCH, 3, libc::EMSGSIZE), format!("Error sending message 3: {emsgsize}"));
        assert_eq!(os_error_text(&ONE, 3, libc::EMSGSIZE), format!("Error sending message: {emsgsize}"));
        assert_eq!(os_error_text(&DATA, 0, libc::EMSGSIZE), format!("Error sending data: {emsgsize}"));
        assert!(!emsgsize.is_empty());
    }

    #[test]
    fn would_block_reads_as_eagain_at_message_0() {
        let mut error: *mut glib::GError = std::ptr::null_mut();
        // SAFETY: a valid, unset out location; the error is freed below.
        let (code, text) = unsafe {
            would_block(&mut error, BATCH);
            let e = &*error;
            let r = (e.code, CStr::from_ptr(e.message).to_string_lossy().into_owned());
            glib::g_error_free(error);
            r
        };
        assert_eq!(code, gio::G_IO_ERROR_WOULD_BLOCK);
        assert_eq!(text, format!("Error sending message 0: {}", glue::strerror(libc::EAGAIN)));
    }
}
