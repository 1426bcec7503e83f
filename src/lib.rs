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

#[cfg(panic = "abort")]
compile_error!("gsend's exports catch panics so that none crosses into C: build with panic = \"unwind\"");

use gio_sys::{
    GAsyncReadyCallback, GAsyncResult, GCancellable, GDatagramBased, GOutputMessage, GOutputVector, GSocket,
    GSocketAddress, GSocketControlMessage,
};
use glib_sys::{gpointer, GBytes, GError};
use gsend_gio as imp;

gsend_gio::warm_up_at_load!();

mod version;
pub use version::{gsend_check_version, gsend_get_major_version, gsend_get_micro_version, gsend_get_minor_version};

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
/// Sends the datagrams described by @messages on @datagram_based, in order,
/// as g_datagram_based_send_messages() does. When @datagram_based is a
/// #GSocket the messages go through gsend's engine (sendmmsg, UDP
/// segmentation offload, no limit of 1024 messages per call); any other
/// implementation is called through its interface, and its result is
/// checked as GIO checks it.
///
/// @timeout decides how long the call may wait for room in the socket. A
/// negative value waits until every message is sent, an error occurs or
/// @cancellable is cancelled. 0 never waits: what fits is sent, and the call
/// fails with %G_IO_ERROR_WOULD_BLOCK only if not even the first message
/// fit. A positive value is one deadline, in microseconds from the start of
/// the call: if nothing was sent by then the call fails with
/// %G_IO_ERROR_TIMED_OUT, otherwise it returns the count sent so far.
///
/// A #GSocket that is not a datagram or seqpacket socket, or whose
/// [property@Gio.Socket:timeout] is set, is refused with
/// %G_IO_ERROR_NOT_SUPPORTED.
///
/// A socket closed with g_socket_close(), before the call or while it
/// waits, ends the call with the count sent so far or, if that is none,
/// %G_IO_ERROR_CLOSED; so does a socket whose sending side is shut down.
/// @cancellable, if cancelled before or during the call, ends it the same
/// way with %G_IO_ERROR_CANCELLED. A kernel error carries the #GIOErrorEnum
/// code of its errno and the index of the failing message. Interrupted
/// system calls (EINTR) are retried. Flags are passed to the kernel as
/// given, with MSG_NOSIGNAL added.
///
/// The bytes_sent field of every message that was sent is set to the number
/// of bytes the kernel accepted for it; the bytes_sent fields of messages
/// that were not sent are left as they were.
///
/// This function may be called from any number of threads at once, on the
/// same socket or on different ones, as long as each call has its own
/// message array. It is not async-signal-safe.
///
/// Returns: the number of messages sent, from 0 to @num_messages, or -1
///   with @error set. An error is reported only when no message was sent:
///   after a partial send the count is returned and the error dropped.
///
/// Since: 0.1
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
/// Sends the datagrams described by @messages on @socket, in order, with the
/// parameters of g_socket_send_messages(). Unlike GIO, more than 1024
/// messages are all sent, and runs of equal-size UDP datagrams to one
/// destination are handed to the kernel as one segmented send where the
/// kernel supports it; receivers get the same datagrams.
///
/// The socket's blocking flag ([property@Gio.Socket:blocking]) decides how long
/// the call may wait for room: a blocking socket waits until every message
/// is sent, an error occurs or @cancellable is cancelled; a non-blocking one
/// sends what fits and fails with %G_IO_ERROR_WOULD_BLOCK only if not even
/// the first message fit.
///
/// If the socket has a timeout of its own ([property@Gio.Socket:timeout], in
/// seconds, set with g_socket_set_timeout()), every wait for room lasts at
/// most that long; a call that sent nothing by then fails with
/// %G_IO_ERROR_TIMED_OUT.
///
/// A socket closed with g_socket_close(), before the call or while it
/// waits, ends the call with the count sent so far or, if that is none,
/// %G_IO_ERROR_CLOSED; so does a socket whose sending side is shut down.
/// @cancellable, if cancelled before or during the call, ends it the same
/// way with %G_IO_ERROR_CANCELLED. A kernel error carries the #GIOErrorEnum
/// code of its errno and the index of the failing message. Interrupted
/// system calls (EINTR) are retried. Flags are passed to the kernel as
/// given, with MSG_NOSIGNAL added.
///
/// The bytes_sent field of every message that was sent is set to the number
/// of bytes the kernel accepted for it; the bytes_sent fields of messages
/// that were not sent are left as they were.
///
/// This function may be called from any number of threads at once, on the
/// same socket or on different ones, as long as each call has its own
/// message array. It is not async-signal-safe.
///
/// Returns: the number of messages sent, from 0 to @num_messages, or -1
///   with @error set. An error is reported only when no message was sent:
///   after a partial send the count is returned and the error dropped.
///
/// Since: 0.1
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
/// rather than by the socket's blocking flag. GIO has this function too but
/// keeps it private.
///
/// @timeout_us decides how long the call may wait for room in the socket. A
/// negative value waits until every message is sent, an error occurs or
/// @cancellable is cancelled. 0 never waits: what fits is sent, and the call
/// fails with %G_IO_ERROR_WOULD_BLOCK only if not even the first message
/// fit. A positive value is one deadline, in microseconds from the start of
/// the call: if nothing was sent by then the call fails with
/// %G_IO_ERROR_TIMED_OUT, otherwise it returns the count sent so far.
///
/// If the socket has a timeout of its own ([property@Gio.Socket:timeout], in
/// seconds, set with g_socket_set_timeout()), every wait for room lasts at
/// most that long; a call that sent nothing by then fails with
/// %G_IO_ERROR_TIMED_OUT.
///
/// A socket closed with g_socket_close(), before the call or while it
/// waits, ends the call with the count sent so far or, if that is none,
/// %G_IO_ERROR_CLOSED; so does a socket whose sending side is shut down.
/// @cancellable, if cancelled before or during the call, ends it the same
/// way with %G_IO_ERROR_CANCELLED. A kernel error carries the #GIOErrorEnum
/// code of its errno and the index of the failing message. Interrupted
/// system calls (EINTR) are retried. Flags are passed to the kernel as
/// given, with MSG_NOSIGNAL added.
///
/// The bytes_sent field of every message that was sent is set to the number
/// of bytes the kernel accepted for it; the bytes_sent fields of messages
/// that were not sent are left as they were.
///
/// This function may be called from any number of threads at once, on the
/// same socket or on different ones, as long as each call has its own
/// message array. It is not async-signal-safe.
///
/// Returns: the number of messages sent, from 0 to @num_messages, or -1
///   with @error set. An error is reported only when no message was sent:
///   after a partial send the count is returned and the error dropped.
///
/// Since: 0.1
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
/// Sends one datagram, gathered from @vectors in order, with the control
/// messages in @messages, to @address, with the parameters of
/// g_socket_send_message(). With no vectors at all a single zero byte is
/// sent.
///
/// The socket's blocking flag decides whether the call waits for room: a
/// blocking socket waits until the datagram is sent, an error occurs or
/// @cancellable is cancelled; a non-blocking one fails with
/// %G_IO_ERROR_WOULD_BLOCK when the socket is full. If the socket has a
/// timeout of its own ([property@Gio.Socket:timeout]), the wait lasts at most
/// that long and then fails with %G_IO_ERROR_TIMED_OUT.
///
/// A socket closed with g_socket_close(), before the call or while it
/// waits, gives %G_IO_ERROR_CLOSED; a cancelled @cancellable gives
/// %G_IO_ERROR_CANCELLED. Kernel errors carry the #GIOErrorEnum code of
/// their errno, as with GIO (a shut-down socket gives
/// %G_IO_ERROR_BROKEN_PIPE). Interrupted system calls are retried, and
/// MSG_NOSIGNAL is added to the flags.
///
/// This function may be called from any number of threads at once, on the
/// same socket or on different ones. It is not async-signal-safe.
///
/// Returns: the number of bytes written, or -1 with @error set.
///
/// Since: 0.1
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
/// Like gsend_socket_send_message(), with the wait decided by @timeout_us,
/// with the parameters of g_socket_send_message_with_timeout(). A negative
/// @timeout_us waits until the datagram is sent, an error occurs or
/// @cancellable is cancelled; 0 never waits and returns
/// %G_POLLABLE_RETURN_WOULD_BLOCK, without setting @error, when the socket is
/// full; a positive value waits at most that many microseconds and then
/// fails with %G_IO_ERROR_TIMED_OUT. The socket's own timeout
/// ([property@Gio.Socket:timeout]) bounds every wait too.
///
/// A socket closed with g_socket_close(), before the call or while it
/// waits, gives %G_IO_ERROR_CLOSED; a cancelled @cancellable gives
/// %G_IO_ERROR_CANCELLED. Kernel errors carry the #GIOErrorEnum code of
/// their errno, as with GIO (a shut-down socket gives
/// %G_IO_ERROR_BROKEN_PIPE). Interrupted system calls are retried, and
/// MSG_NOSIGNAL is added to the flags.
///
/// This function may be called from any number of threads at once, on the
/// same socket or on different ones. It is not async-signal-safe.
///
/// Returns: %G_POLLABLE_RETURN_OK if the datagram was sent (its size is
///   stored in @bytes_written), %G_POLLABLE_RETURN_WOULD_BLOCK if the socket
///   is full, or %G_POLLABLE_RETURN_FAILED with @error set.
///
/// Since: 0.1
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
/// Sends @size bytes from @buffer as one datagram to @address, with the
/// parameters of g_socket_send_to(). The socket's blocking flag decides
/// whether the call waits for room (a non-blocking socket that is full
/// gives %G_IO_ERROR_WOULD_BLOCK); the socket's own timeout
/// ([property@Gio.Socket:timeout]) bounds the wait and then gives
/// %G_IO_ERROR_TIMED_OUT.
///
/// A socket closed with g_socket_close(), before the call or while it
/// waits, gives %G_IO_ERROR_CLOSED; a cancelled @cancellable gives
/// %G_IO_ERROR_CANCELLED. Kernel errors carry the #GIOErrorEnum code of
/// their errno, as with GIO (a shut-down socket gives
/// %G_IO_ERROR_BROKEN_PIPE). Interrupted system calls are retried, and
/// MSG_NOSIGNAL is added to the flags.
///
/// This function may be called from any number of threads at once, on the
/// same socket or on different ones. It is not async-signal-safe.
///
/// Returns: the number of bytes written, or -1 with @error set.
///
/// Since: 0.1
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
/// Sends @size bytes from @buffer to the connected peer, with the parameters
/// of g_socket_send(). The socket's blocking flag decides whether the call
/// waits for room (a non-blocking socket that is full gives
/// %G_IO_ERROR_WOULD_BLOCK); the socket's own timeout
/// ([property@Gio.Socket:timeout]) bounds the wait and then gives
/// %G_IO_ERROR_TIMED_OUT.
///
/// A socket closed with g_socket_close(), before the call or while it
/// waits, gives %G_IO_ERROR_CLOSED; a cancelled @cancellable gives
/// %G_IO_ERROR_CANCELLED. Kernel errors carry the #GIOErrorEnum code of
/// their errno, as with GIO (a shut-down socket gives
/// %G_IO_ERROR_BROKEN_PIPE). Interrupted system calls are retried, and
/// MSG_NOSIGNAL is added to the flags.
///
/// This function may be called from any number of threads at once, on the
/// same socket or on different ones. It is not async-signal-safe.
///
/// Returns: the number of bytes written, or -1 with @error set.
///
/// Since: 0.1
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
/// Like gsend_socket_send(), with the wait decided by @blocking instead of
/// the socket's blocking flag, with the parameters of
/// g_socket_send_with_blocking(). With @blocking %FALSE a full socket gives
/// %G_IO_ERROR_WOULD_BLOCK; with %TRUE the call waits, at most for the
/// socket's own timeout ([property@Gio.Socket:timeout]) if it has one, which
/// then gives %G_IO_ERROR_TIMED_OUT.
///
/// A socket closed with g_socket_close(), before the call or while it
/// waits, gives %G_IO_ERROR_CLOSED; a cancelled @cancellable gives
/// %G_IO_ERROR_CANCELLED. Kernel errors carry the #GIOErrorEnum code of
/// their errno, as with GIO (a shut-down socket gives
/// %G_IO_ERROR_BROKEN_PIPE). Interrupted system calls are retried, and
/// MSG_NOSIGNAL is added to the flags.
///
/// This function may be called from any number of threads at once, on the
/// same socket or on different ones. It is not async-signal-safe.
///
/// Returns: the number of bytes written, or -1 with @error set.
///
/// Since: 0.1
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
/// Sends each #GBytes of @datagrams as one datagram to @address, in order.
/// Unlike the #GOutputMessage functions it can be called from language
/// bindings (Python, JavaScript, Vala). It does not keep @datagrams or
/// @address after it returns.
///
/// @timeout_us decides how long the call may wait for room in the socket. A
/// negative value waits until every datagram is sent, an error occurs or
/// @cancellable is cancelled. 0 never waits: what fits is sent, and the call
/// fails with %G_IO_ERROR_WOULD_BLOCK only if not even the first datagram
/// fit. A positive value is one deadline, in microseconds from the start of
/// the call: if nothing was sent by then the call fails with
/// %G_IO_ERROR_TIMED_OUT, otherwise it returns the count sent so far.
///
/// If the socket has a timeout of its own ([property@Gio.Socket:timeout], in
/// seconds, set with g_socket_set_timeout()), every wait for room lasts at
/// most that long; a call that sent nothing by then fails with
/// %G_IO_ERROR_TIMED_OUT.
///
/// A socket closed with g_socket_close(), before the call or while it
/// waits, ends the call with the count sent so far or, if that is none,
/// %G_IO_ERROR_CLOSED; so does a socket whose sending side is shut down.
/// @cancellable, if cancelled before or during the call, ends it the same
/// way with %G_IO_ERROR_CANCELLED. A kernel error carries the #GIOErrorEnum
/// code of its errno and the index of the failing datagram. Interrupted
/// system calls (EINTR) are retried. Flags are passed to the kernel as
/// given, with MSG_NOSIGNAL added.
///
/// The datagrams sent are always the first ones of @datagrams: after a
/// partial send, send the rest again starting at the returned count.
///
/// This function may be called from any number of threads at once, on the
/// same socket or on different ones, as long as each call has its own
/// array. It is not async-signal-safe.
///
/// Returns: the number of datagrams sent, from 0 to @n_datagrams, or -1
///   with @error set. An error is reported only when no datagram was sent:
///   after a partial send the count is returned and the error dropped.
///
/// Since: 0.1
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

/// gsend_socket_send_datagrams_async:
/// @socket: a #GSocket
/// @address: (nullable): the destination of every datagram, or %NULL on a
///   connected socket
/// @datagrams: (array length=n_datagrams): the datagrams, one #GBytes each
/// @n_datagrams: the number of elements in @datagrams
/// @flags: an int containing #GSocketMsgFlags flags
/// @io_priority: the I/O priority of the request (%G_PRIORITY_DEFAULT is usual)
/// @cancellable: (nullable): a #GCancellable
/// @callback: (scope async) (nullable): called when the send is done
/// @user_data: (closure): data for @callback
///
/// Starts sending each #GBytes of @datagrams as one datagram to @address,
/// in order, without ever blocking the calling thread, whatever the
/// socket's blocking flag. The call keeps its own references to
/// @datagrams and @address and drops them before @callback runs.
///
/// @callback runs in the thread-default main context of the thread that
/// made this call (never from inside this call); call
/// gsend_socket_send_datagrams_finish() there to get the result.
///
/// Asynchronous sends on one socket go out in the order they were made and
/// never interleave. Sends made before the main context next runs are sent
/// together, as one batch: a program that makes many one-datagram calls
/// per main-loop iteration gets the speed of one large call, with UDP
/// segmentation offload across calls where the datagrams allow it. A call
/// completes as long as the main context it was made in keeps running.
///
/// The call completes when every datagram is sent. Otherwise it follows the
/// rule of the synchronous functions: if some datagrams were sent, the
/// result is their count and no error; if none were, the error:
/// %G_IO_ERROR_CANCELLED when @cancellable is cancelled,
/// %G_IO_ERROR_CLOSED when the socket is closed (also while the send
/// waits for room), %G_IO_ERROR_TIMED_OUT when the socket has a timeout
/// ([property@Gio.Socket:timeout]) and no room came within it, or the
/// kernel's error as gsend_socket_send_datagrams() reports it.
///
/// Since: 0.1
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_datagrams_async(
    socket: *mut GSocket,
    address: *mut GSocketAddress,
    datagrams: *mut *mut GBytes,
    n_datagrams: guint,
    flags: gint,
    io_priority: gint,
    cancellable: *mut GCancellable,
    callback: GAsyncReadyCallback,
    user_data: gpointer,
) {
    // SAFETY: the caller follows the documented contract.
    unsafe {
        imp::socket_send_datagrams_async(
            socket,
            address,
            datagrams,
            n_datagrams,
            flags,
            io_priority,
            cancellable,
            callback,
            user_data,
        )
    }
}

/// gsend_socket_send_datagrams_finish:
/// @socket: the #GSocket given to gsend_socket_send_datagrams_async()
/// @result: the #GAsyncResult given to the callback
/// @error: return location for a #GError
///
/// Gets the result of gsend_socket_send_datagrams_async().
///
/// Returns: the number of datagrams sent, from 0 to the number given, or -1
///   with @error set. An error is reported only when no datagram was sent.
///
/// Since: 0.1
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_datagrams_finish(
    socket: *mut GSocket,
    result: *mut GAsyncResult,
    error: *mut *mut GError,
) -> gint {
    // SAFETY: the caller follows the documented contract.
    unsafe { imp::socket_send_datagrams_finish(socket, result, error) }
}

/// gsend_socket_send_messages_async: (skip)
/// @socket: a #GSocket
/// @messages: (array length=num_messages): an array of #GOutputMessage
///   structs, which must stay valid until @callback runs
/// @num_messages: the number of elements in @messages
/// @flags: an int containing #GSocketMsgFlags flags
/// @io_priority: the I/O priority of the request
/// @cancellable: (nullable): a #GCancellable
/// @callback: (scope async) (nullable): called when the send is done
/// @user_data: (closure): data for @callback
///
/// Starts sending the datagrams described by @messages, in order, as
/// gsend_socket_send_datagrams_async() does, with the same ordering,
/// batching across calls, completion and errors. The messages are not
/// copied: @messages, their vectors, buffers, addresses and control
/// messages must stay valid and unchanged until @callback runs (as with
/// g_output_stream_writev_async()). The bytes_sent field of every message
/// that was sent is set before @callback runs. Language bindings cannot
/// keep such an array alive, so this function is not available to them:
/// they use gsend_socket_send_datagrams_async().
///
/// Since: 0.1
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_messages_async(
    socket: *mut GSocket,
    messages: *mut GOutputMessage,
    num_messages: guint,
    flags: gint,
    io_priority: gint,
    cancellable: *mut GCancellable,
    callback: GAsyncReadyCallback,
    user_data: gpointer,
) {
    // SAFETY: the caller follows the documented contract.
    unsafe {
        imp::socket_send_messages_async(
            socket,
            messages,
            num_messages,
            flags,
            io_priority,
            cancellable,
            callback,
            user_data,
        )
    }
}

/// gsend_socket_send_messages_finish:
/// @socket: the #GSocket given to gsend_socket_send_messages_async()
/// @result: the #GAsyncResult given to the callback
/// @error: return location for a #GError
///
/// Gets the result of gsend_socket_send_messages_async().
///
/// Returns: the number of messages sent, from 0 to the number given, or -1
///   with @error set. An error is reported only when no message was sent.
///
/// Since: 0.1
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_send_messages_finish(
    socket: *mut GSocket,
    result: *mut GAsyncResult,
    error: *mut *mut GError,
) -> gint {
    // SAFETY: the caller follows the documented contract.
    unsafe { imp::socket_send_messages_finish(socket, result, error) }
}

/// gsend_socket_set_gso:
/// @socket: a #GSocket
/// @enabled: %FALSE to never coalesce datagrams on @socket
///
/// Turns UDP segmentation offload on or off for one socket. It is on by
/// default, unless the environment variable `GSEND_GSO` is `0`, and is only
/// ever used on sockets the kernel calls UDP (not on ICMP "ping" sockets,
/// which GIO reports as UDP), for runs of equal-size datagrams to one
/// destination without control messages, and not while the socket has TX
/// timestamps on or the flags carry `MSG_ZEROCOPY`. Receivers get the same
/// datagrams either way, except a local receiver that turned on the UDP_GRO
/// option, which may get each run as one datagram with its segment size.
/// Turning it on again also retries a socket on which the kernel refused it
/// before.
///
/// Since: 0.1
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_set_gso(socket: *mut GSocket, enabled: gboolean) {
    // SAFETY: the socket is type-checked before use.
    unsafe { imp::socket_set_gso(socket, enabled) }
}

/// gsend_socket_get_gso:
/// @socket: a #GSocket
///
/// Tells whether batches sent on @socket may use UDP segmentation offload:
/// it is a UDP socket, it is not turned off for the socket or for the
/// process, and the kernel has not refused it.
///
/// Returns: %TRUE if gsend will try segmentation offload on @socket.
///
/// Since: 0.1
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_get_gso(socket: *mut GSocket) -> gboolean {
    // SAFETY: the socket is type-checked before use.
    unsafe { imp::socket_get_gso(socket) }
}

/// gsend_socket_set_gso_max_bytes:
/// @socket: a #GSocket
/// @max_bytes: the most payload bytes one segmented send may carry, or 0
///   for the process-wide cap
///
/// Caps the size of the runs gsend coalesces on @socket. A segmented send
/// travels through the local queues (the qdisc of the outgoing interface)
/// as one packet of up to 64 KiB: a queue with a byte limit below that
/// (`bfifo`, a small `tbf` bucket) drops it whole where the same datagrams
/// sent one by one would pass. Set the cap at or below such a limit. Runs
/// are never larger than the kernel allows (65507 bytes, 64 segments);
/// a cap below twice the datagram size turns coalescing off for datagrams
/// of that size. The process-wide cap is the environment variable
/// `GSEND_GSO_MAX_BYTES` (read once), else 65507.
///
/// Since: 0.1
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_set_gso_max_bytes(socket: *mut GSocket, max_bytes: guint) {
    // SAFETY: the socket is type-checked before use.
    unsafe { imp::socket_set_gso_max_bytes(socket, max_bytes) }
}

/// gsend_socket_get_gso_max_bytes:
/// @socket: a #GSocket
///
/// Tells how many payload bytes one segmented send on @socket may carry at
/// most: the cap set with gsend_socket_set_gso_max_bytes(), else the
/// process-wide one.
///
/// Returns: the cap in bytes.
///
/// Since: 0.1
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_get_gso_max_bytes(socket: *mut GSocket) -> guint {
    // SAFETY: the socket is type-checked before use.
    unsafe { imp::socket_get_gso_max_bytes(socket) }
}

/// GLib's `guint64`.
pub type guint64 = u64;

/// GSendStats:
/// @datagrams_sent: datagrams the kernel accepted
/// @send_calls: kernel send calls (`sendmsg` and `sendmmsg`) that sent or
///   failed, a full socket's `EAGAIN` included; a call interrupted by a
///   signal and retried is not counted
/// @gso_datagrams: of the datagrams sent, those that went out in
///   segmentation-offload runs
/// @gso_refusals: times the kernel refused a segmented send (the socket
///   then sends its datagrams one by one)
/// @waits: times a send found the socket full and waited for room
/// @async_queued: asynchronous sends queued
/// @reserved: zero; room for counters added in later versions
///
/// What gsend did on one socket, or in the whole process; filled in by
/// gsend_socket_get_stats(). Every counter starts at zero and only grows.
///
/// The struct's size is fixed at 128 bytes: a later version of gsend adds
/// counters in the @reserved words, which read zero until then, so a
/// program built against this version keeps working with later ones.
///
/// Since: 0.1
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct GSendStats {
    pub datagrams_sent: guint64,
    pub send_calls: guint64,
    pub gso_datagrams: guint64,
    pub gso_refusals: guint64,
    pub waits: guint64,
    pub async_queued: guint64,
    pub reserved: [guint64; 10],
}

/// gsend_socket_get_stats:
/// @socket: (nullable): a #GSocket, or %NULL for the process totals
/// @stats: (out caller-allocates): the #GSendStats to fill in
///
/// Fills in @stats with what gsend did on @socket since it was created, or
/// with %NULL, in the whole process (every socket, open or closed and
/// gone). Sends through every gsend function count, including the
/// one-datagram functions. A socket's counters are read one by one, not at
/// one instant: while another thread sends on it they may disagree by
/// that send. The totals of `libgsend-preload.so`, which counts GIO's own
/// names, are its own, apart from these; set the environment variable
/// `GSEND_STATS` to `1` to have each library print its totals to stderr
/// when the program exits.
///
/// Since: 0.1
#[no_mangle]
pub unsafe extern "C" fn gsend_socket_get_stats(socket: *mut GSocket, stats: *mut GSendStats) {
    // SAFETY: the socket is type-checked before use; stats is checked for
    // NULL and is the caller's struct.
    unsafe { imp::socket_get_stats(socket, stats.cast()) }
}

// The struct is the words the implementation fills in, 128 bytes.
const _: () = assert!(std::mem::size_of::<GSendStats>() == imp::STATS_WORDS * 8 && imp::STATS_WORDS * 8 == 128);
