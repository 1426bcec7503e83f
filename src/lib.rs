//! gsend: GIO's datagram send path in Rust, with a C API.
//!
//! This crate is the namespaced C library `libgsend.so.1`. Each exported
//! function is a thin, documented entry point into `gsend-gio`, which holds
//! the implementation shared with the preload shim. The doc comments below
//! are gtk-doc blocks: cbindgen copies them into `include/gsend.h`, and
//! g-ir-scanner reads their annotations from there.

#![allow(non_camel_case_types)]
// The doc comments are the C documentation (gtk-doc), where the safety
// contract is GIO's own for each twin; no Rust "# Safety" sections.
#![allow(clippy::missing_safety_doc)]

use gio_sys::{
    GCancellable, GDatagramBased, GOutputMessage, GOutputVector, GSocket, GSocketAddress, GSocketControlMessage,
};
use glib_sys::{GBytes, GError};
use gsend_gio as imp;

/// GLib's `gint`.
pub type gint = std::ffi::c_int;
/// GLib's `guint`.
pub type guint = std::ffi::c_uint;
/// GLib's `gint64`.
pub type gint64 = i64;
/// GLib's `gsize`.
pub type gsize = usize;
/// GLib's `gssize`.
pub type gssize = isize;
/// GLib's `gchar`.
pub type gchar = std::ffi::c_char;
/// GLib's `gboolean`.
pub type gboolean = glib_sys::gboolean;
/// GIO's `GPollableReturn`.
pub type GPollableReturn = gio_sys::GPollableReturn;

/// gsend_datagram_based_send_messages:
/// @datagram_based: a #GDatagramBased
/// @messages: (array length=num_messages): an array of #GOutputMessage structs
/// @num_messages: the number of elements in @messages
/// @flags: an int containing #GSocketMsgFlags flags
/// @timeout: the maximum time (in microseconds) to wait, 0 to not block, or -1
///   to block indefinitely
/// @cancellable: (nullable): a #GCancellable
/// @error: return location for a #GError
///
/// Sends one or more datagrams, exactly as g_datagram_based_send_messages()
/// does. When @datagram_based is a #GSocket the messages go through gsend's
/// engine (sendmmsg, UDP segmentation offload); any other implementation is
/// called through its interface, with GIO's checks of the result.
///
/// A #GSocket that is not a datagram or seqpacket socket, or that has a
/// #GSocket:timeout set, is refused with %G_IO_ERROR_NOT_SUPPORTED.
///
/// Returns: the number of messages sent, or -1 on error. An error is only
///   reported when no message could be sent.
#[no_mangle]
pub unsafe extern "C" fn gsend_datagram_based_send_messages(
    datagram_based: *mut GDatagramBased,
    messages: *mut GOutputMessage,
    num_messages: guint,
    flags: gint,
    timeout: gint64,
    cancellable: *mut GCancellable,
    error: *mut *mut GError,
) -> gint {
    // SAFETY: the caller follows GIO's contract for these arguments.
    unsafe {
        imp::datagram_based_send_messages::<imp::names::GSend>(
            datagram_based,
            messages,
            num_messages,
            flags,
            timeout,
            cancellable,
            error,
        )
    }
}

/// gsend_socket_send_messages:
/// @socket: a #GSocket
/// @messages: (array length=num_messages): an array of #GOutputMessage structs
/// @num_messages: the number of elements in @messages
/// @flags: an int containing #GSocketMsgFlags flags
/// @cancellable: (nullable): a #GCancellable
/// @error: return location for a #GError
///
/// Sends several datagrams in one go, as g_socket_send_messages() does:
/// blocking sockets wait until every message is sent, non-blocking ones send
/// what fits and fail with %G_IO_ERROR_WOULD_BLOCK if nothing did. Unlike
/// GIO, more than 1024 messages are all sent, and runs of equal-size UDP
/// datagrams to one destination are handed to the kernel as one segmented
/// send where the kernel supports it. The bytes_sent field of every sent
/// message is set.
///
/// Returns: the number of messages sent, or -1 on error. An error is only
///   reported when no message could be sent.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_messages(
    socket: *mut GSocket,
    messages: *mut GOutputMessage,
    num_messages: guint,
    flags: gint,
    cancellable: *mut GCancellable,
    error: *mut *mut GError,
) -> gint {
    // SAFETY: the caller follows GIO's contract for these arguments.
    unsafe { imp::socket_send_messages::<imp::names::GSend>(socket, messages, num_messages, flags, cancellable, error) }
}

/// gsend_socket_send_messages_with_timeout:
/// @socket: a #GSocket
/// @messages: (array length=num_messages): an array of #GOutputMessage structs
/// @num_messages: the number of elements in @messages
/// @flags: an int containing #GSocketMsgFlags flags
/// @timeout_us: the maximum time (in microseconds) to wait, 0 to not block,
///   or -1 to block indefinitely
/// @cancellable: (nullable): a #GCancellable
/// @error: return location for a #GError
///
/// Like gsend_socket_send_messages(), with the wait decided by @timeout_us
/// rather than by the socket's blocking flag. With a positive timeout the
/// deadline is counted from the start of the call; %G_IO_ERROR_TIMED_OUT is
/// reported only if nothing was sent by then.
///
/// Returns: the number of messages sent, or -1 on error.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_messages_with_timeout(
    socket: *mut GSocket,
    messages: *mut GOutputMessage,
    num_messages: guint,
    flags: gint,
    timeout_us: gint64,
    cancellable: *mut GCancellable,
    error: *mut *mut GError,
) -> gint {
    // SAFETY: the caller follows GIO's contract for these arguments.
    unsafe {
        imp::socket_send_messages_with_timeout::<imp::names::GSend>(
            socket,
            messages,
            num_messages,
            flags,
            timeout_us,
            cancellable,
            error,
        )
    }
}

/// gsend_socket_send_message:
/// @socket: a #GSocket
/// @address: (nullable): a #GSocketAddress, or %NULL for the connected peer
/// @vectors: (array length=num_vectors): an array of #GOutputVector structs
/// @num_vectors: the number of elements in @vectors, or -1 if @vectors is
///   terminated by an element with a %NULL buffer
/// @messages: (array length=num_messages) (nullable): an array of
///   #GSocketControlMessage, or %NULL
/// @num_messages: the number of elements in @messages, or -1 if @messages is
///   %NULL-terminated
/// @flags: an int containing #GSocketMsgFlags flags
/// @cancellable: (nullable): a #GCancellable
/// @error: return location for a #GError
///
/// Sends one message, as g_socket_send_message() does. With no vectors at
/// all a single zero byte is sent.
///
/// Returns: the number of bytes written, or -1 on error.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_message(
    socket: *mut GSocket,
    address: *mut GSocketAddress,
    vectors: *mut GOutputVector,
    num_vectors: gint,
    messages: *mut *mut GSocketControlMessage,
    num_messages: gint,
    flags: gint,
    cancellable: *mut GCancellable,
    error: *mut *mut GError,
) -> gssize {
    // SAFETY: the caller follows GIO's contract for these arguments.
    unsafe {
        imp::socket_send_message::<imp::names::GSend>(
            socket,
            address,
            vectors,
            num_vectors,
            messages,
            num_messages,
            flags,
            cancellable,
            error,
        )
    }
}

/// gsend_socket_send_message_with_timeout:
/// @socket: a #GSocket
/// @address: (nullable): a #GSocketAddress, or %NULL for the connected peer
/// @vectors: (array length=num_vectors): an array of #GOutputVector structs
/// @num_vectors: the number of elements in @vectors, or -1
/// @messages: (array length=num_messages) (nullable): an array of
///   #GSocketControlMessage, or %NULL
/// @num_messages: the number of elements in @messages, or -1
/// @flags: an int containing #GSocketMsgFlags flags
/// @timeout_us: the maximum time (in microseconds) to wait, or -1
/// @bytes_written: (out) (optional): where to store the number of bytes written
/// @cancellable: (nullable): a #GCancellable
/// @error: return location for a #GError
///
/// Like gsend_socket_send_message(), with the wait decided by @timeout_us.
/// As with g_socket_send_message_with_timeout(), a full socket with a zero
/// timeout gives %G_POLLABLE_RETURN_WOULD_BLOCK without an error.
///
/// Returns: %G_POLLABLE_RETURN_OK if the data was written,
///   %G_POLLABLE_RETURN_WOULD_BLOCK if the socket is full, or
///   %G_POLLABLE_RETURN_FAILED with @error set.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_message_with_timeout(
    socket: *mut GSocket,
    address: *mut GSocketAddress,
    vectors: *const GOutputVector,
    num_vectors: gint,
    messages: *mut *mut GSocketControlMessage,
    num_messages: gint,
    flags: gint,
    timeout_us: gint64,
    bytes_written: *mut gsize,
    cancellable: *mut GCancellable,
    error: *mut *mut GError,
) -> GPollableReturn {
    // SAFETY: the caller follows GIO's contract for these arguments.
    unsafe {
        imp::socket_send_message_with_timeout::<imp::names::GSend>(
            socket,
            address,
            vectors,
            num_vectors,
            messages,
            num_messages,
            flags,
            timeout_us,
            bytes_written,
            cancellable,
            error,
        )
    }
}

/// gsend_socket_send_to:
/// @socket: a #GSocket
/// @address: (nullable): a #GSocketAddress, or %NULL for the connected peer
/// @buffer: (array length=size) (element-type guint8): the data to send
/// @size: the number of bytes to send
/// @cancellable: (nullable): a #GCancellable
/// @error: return location for a #GError
///
/// Sends @size bytes from @buffer to @address, as g_socket_send_to() does.
///
/// Returns: the number of bytes written, or -1 on error.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_to(
    socket: *mut GSocket,
    address: *mut GSocketAddress,
    buffer: *const gchar,
    size: gsize,
    cancellable: *mut GCancellable,
    error: *mut *mut GError,
) -> gssize {
    // SAFETY: the caller follows GIO's contract for these arguments.
    unsafe { imp::socket_send_to::<imp::names::GSend>(socket, address, buffer, size, cancellable, error) }
}

/// gsend_socket_send:
/// @socket: a #GSocket
/// @buffer: (array length=size) (element-type guint8): the data to send
/// @size: the number of bytes to send
/// @cancellable: (nullable): a #GCancellable
/// @error: return location for a #GError
///
/// Sends @size bytes from @buffer to the connected peer, as g_socket_send()
/// does, blocking or not according to the socket's blocking flag.
///
/// Returns: the number of bytes written, or -1 on error.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send(
    socket: *mut GSocket,
    buffer: *const gchar,
    size: gsize,
    cancellable: *mut GCancellable,
    error: *mut *mut GError,
) -> gssize {
    // SAFETY: the caller follows GIO's contract for these arguments.
    unsafe { imp::socket_send::<imp::names::GSend>(socket, buffer, size, cancellable, error) }
}

/// gsend_socket_send_with_blocking:
/// @socket: a #GSocket
/// @buffer: (array length=size) (element-type guint8): the data to send
/// @size: the number of bytes to send
/// @blocking: whether to wait for room in the socket
/// @cancellable: (nullable): a #GCancellable
/// @error: return location for a #GError
///
/// Like gsend_socket_send(), with the wait decided by @blocking, as
/// g_socket_send_with_blocking() does.
///
/// Returns: the number of bytes written, or -1 on error.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_with_blocking(
    socket: *mut GSocket,
    buffer: *const gchar,
    size: gsize,
    blocking: gboolean,
    cancellable: *mut GCancellable,
    error: *mut *mut GError,
) -> gssize {
    // SAFETY: the caller follows GIO's contract for these arguments.
    unsafe { imp::socket_send_with_blocking::<imp::names::GSend>(socket, buffer, size, blocking, cancellable, error) }
}

/// gsend_socket_send_datagrams:
/// @socket: a #GSocket
/// @address: (nullable): where to send every datagram, or %NULL for the
///   connected peer
/// @datagrams: (array length=n_datagrams): the datagrams, one #GBytes each
/// @n_datagrams: the number of elements in @datagrams
/// @flags: an int containing #GSocketMsgFlags flags
/// @timeout_us: the maximum time (in microseconds) to wait, 0 to not block,
///   or -1 to block indefinitely
/// @cancellable: (nullable): a #GCancellable
/// @error: return location for a #GError
///
/// Sends each #GBytes of @datagrams as one datagram to @address, in order,
/// with the rules of gsend_socket_send_messages_with_timeout(). Unlike the
/// #GOutputMessage functions it can be called from language bindings.
///
/// Returns: the number of datagrams sent, or -1 on error. An error is only
///   reported when no datagram could be sent.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_datagrams(
    socket: *mut GSocket,
    address: *mut GSocketAddress,
    datagrams: *mut *mut GBytes,
    n_datagrams: guint,
    flags: gint,
    timeout_us: gint64,
    cancellable: *mut GCancellable,
    error: *mut *mut GError,
) -> gint {
    // SAFETY: the caller follows the documented contract.
    unsafe {
        imp::socket_send_datagrams::<imp::names::GSend>(
            socket,
            address,
            datagrams,
            n_datagrams,
            flags,
            timeout_us,
            cancellable,
            error,
        )
    }
}

/// gsend_socket_set_gso:
/// @socket: a #GSocket
/// @enabled: %FALSE to never coalesce datagrams on @socket
///
/// Turns UDP segmentation offload on or off for one socket. It is on by
/// default (unless the environment variable `GSEND_GSO` is `0`), and only
/// ever used on UDP sockets for runs of equal-size datagrams to one
/// destination without control messages; receivers cannot tell the
/// difference. Turning it on again also retries a socket on which the
/// kernel refused it before.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_set_gso(socket: *mut GSocket, enabled: gboolean) {
    // SAFETY: the socket is type-checked before use.
    unsafe { imp::socket_set_gso(socket, enabled) }
}

/// gsend_socket_get_gso:
/// @socket: a #GSocket
///
/// Tells whether batches sent on @socket may use UDP segmentation offload:
/// it is a UDP socket, GSO is not turned off for it or for the process, and
/// the kernel has not refused it.
///
/// Returns: %TRUE if gsend will try segmentation offload on @socket.
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_get_gso(socket: *mut GSocket) -> gboolean {
    // SAFETY: the socket is type-checked before use.
    unsafe { imp::socket_get_gso(socket) }
}
