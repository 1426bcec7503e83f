//! libgsend-preload.so: GIO's own names for its datagram send functions,
//! routed through gsend.
//!
//! Loaded with `LD_PRELOAD` (or linked before `-lgio-2.0`), these seven
//! definitions come first in the dynamic linker's search order, so an
//! unmodified GIO program's calls to them reach gsend's engine instead of
//! libgio. Each one only forwards to the implementation that also backs the
//! namespaced `gsend_*` functions in `libgsend.so.1`: one implementation, two
//! sets of names. Nothing else is exported.
//!
//! GLib's own internal calls between its functions are bound inside libgio
//! and are not affected; what changes is every call a program (or another
//! library such as GStreamer or libnice) makes to these seven names.

// The safety contract of each function is GIO's own.
#![allow(clippy::missing_safety_doc)]

#[cfg(panic = "abort")]
compile_error!("gsend's exports catch panics so that none crosses into C: build with panic = \"unwind\"");

use std::ffi::{c_char, c_int, c_uint};

use gio_sys::{
    GCancellable, GDatagramBased, GOutputMessage, GOutputVector, GPollableReturn, GSocket, GSocketAddress,
    GSocketControlMessage,
};
use glib_sys::{gboolean, GError};
use gsend_gio as imp;

gsend_gio::warm_up_at_load!();

/// Defines each of GIO's names as an export that hands its arguments,
/// unchanged, to gsend's implementation of the same function, which then
/// words its criticals and errors under GIO's names ([`imp::names::Gio`]).
/// Each signature is written once, here: it is GIO's, and `crates/gio`'s
/// generic function must accept it or the library does not build.
macro_rules! gio_names {
    ($($name:ident => $imp:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`, through gsend.")]
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            // SAFETY: the caller follows GIO's contract, which gsend's is.
            unsafe { imp::$imp::<imp::names::Gio>($($arg),*) }
        }
    )*};
}

gio_names! {
    g_datagram_based_send_messages => datagram_based_send_messages(
        datagram_based: *mut GDatagramBased,
        messages: *mut GOutputMessage,
        num_messages: c_uint,
        flags: c_int,
        timeout: i64,
        cancellable: *mut GCancellable,
        error: *mut *mut GError,
    ) -> c_int;

    g_socket_send_messages => socket_send_messages(
        socket: *mut GSocket,
        messages: *mut GOutputMessage,
        num_messages: c_uint,
        flags: c_int,
        cancellable: *mut GCancellable,
        error: *mut *mut GError,
    ) -> c_int;

    g_socket_send_message => socket_send_message(
        socket: *mut GSocket,
        address: *mut GSocketAddress,
        vectors: *mut GOutputVector,
        num_vectors: c_int,
        messages: *mut *mut GSocketControlMessage,
        num_messages: c_int,
        flags: c_int,
        cancellable: *mut GCancellable,
        error: *mut *mut GError,
    ) -> isize;

    g_socket_send_message_with_timeout => socket_send_message_with_timeout(
        socket: *mut GSocket,
        address: *mut GSocketAddress,
        vectors: *const GOutputVector,
        num_vectors: c_int,
        messages: *mut *mut GSocketControlMessage,
        num_messages: c_int,
        flags: c_int,
        timeout_us: i64,
        bytes_written: *mut usize,
        cancellable: *mut GCancellable,
        error: *mut *mut GError,
    ) -> GPollableReturn;

    g_socket_send_to => socket_send_to(
        socket: *mut GSocket,
        address: *mut GSocketAddress,
        buffer: *const c_char,
        size: usize,
        cancellable: *mut GCancellable,
        error: *mut *mut GError,
    ) -> isize;

    g_socket_send => socket_send(
        socket: *mut GSocket,
        buffer: *const c_char,
        size: usize,
        cancellable: *mut GCancellable,
        error: *mut *mut GError,
    ) -> isize;

    g_socket_send_with_blocking => socket_send_with_blocking(
        socket: *mut GSocket,
        buffer: *const c_char,
        size: usize,
        blocking: gboolean,
        cancellable: *mut GCancellable,
        error: *mut *mut GError,
    ) -> isize;
}
