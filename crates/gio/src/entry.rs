//! The entry points: one `pub unsafe extern "C"` function per GIO send
//! function (plus gsend's own), generic over the export set `E: Exports`
//! whose names the criticals carry. Each one runs inside the panic guard,
//! checks its arguments, tries the one-datagram fast path (`fast.rs`) and
//! otherwise hands the call to the batch run (`run.rs`).

use std::ffi::{c_char, c_int, c_uint};

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;
use gsend_engine::plan::CHUNK;

use crate::checks::{batch_preconditions, cancellable_type, return_val_if_fail};
use crate::errors::{would_block, Style};
use crate::fast::{fast_one, Fast};
use crate::glue::{self, is_a, set_io_error};
use crate::message::{self, DescribeError};
use crate::names::Exports;
use crate::run::{run, Res};
use crate::socket::{self, socket_type};
use crate::{addrcache, debug, gso, stats};

type GError = glib::GError;

/// Settles the values a first send would otherwise look up (quarks, GTypes,
/// the environment switches). The libraries call it when they are loaded,
/// before the program has threads: GLib takes a global lock to make a
/// quark, and a child forked while another thread held it would wait for
/// it forever at its own first send (docs/behaviour.md "Signals and fork").
/// Calling it again, or never, is harmless: each value is also looked up
/// on first use.
pub fn warm_up() {
    gso::quark();
    addrcache::quark();
    crate::async_send::quark();
    socket_type();
    cancellable_type();
    gso::enabled_by_env();
    gso::max_bytes_by_env();
    stats::quark();
    stats::report_wanted();
    debug::settle();
}

/// The engine behind every `*_send_messages` function (inlined into each,
/// so that a one-message call that takes the fast path costs one frame).
#[inline(always)]
unsafe fn messages_impl(
    socket: *mut gio::GSocket,
    messages: *mut gio::GOutputMessage,
    num_messages: c_uint,
    flags: c_int,
    timeout_us: Option<i64>,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
    style: &Style,
) -> c_int {
    let n = num_messages as usize;
    // SAFETY: checked pointers only.
    unsafe {
        if !batch_preconditions(style, socket, !messages.is_null(), n, cancellable, error) {
            return -1;
        }
        if n == 1 {
            let m = &mut *messages;
            if m.num_control_messages == 0 {
                if let Ok((iov, _)) = message::vectors_of(m.vectors, m.num_vectors as usize) {
                    match fast_one(socket, m.address, iov, flags, cancellable, error, style) {
                        Fast::Sent(bytes) => {
                            m.bytes_sent = bytes as c_uint;
                            return 1;
                        }
                        Fast::Failed => return -1,
                        Fast::General => {}
                    }
                }
            }
        }
        if n > CHUNK {
            if let Err(DescribeError::Programming(expr)) = message::precheck(messages, n) {
                style.critical(expr);
                return -1;
            }
        }
        let res = run(
            socket,
            n,
            flags,
            timeout_us,
            cancellable,
            error,
            *style,
            |i, s, memo| message::describe_run(s, memo, messages, i),
            |i, bytes| (*messages.add(i)).bytes_sent = bytes as c_uint,
        );
        match res {
            Res::Sent(k) => k.min(c_int::MAX as usize) as c_int,
            Res::Failed => -1,
            Res::WouldBlock => {
                would_block(error, *style);
                -1
            }
        }
    }
}

/// See `gsend_socket_send_messages_with_timeout`.
///
/// # Safety
/// GIO's contract for `g_socket_send_messages`.
pub unsafe extern "C" fn socket_send_messages_with_timeout<E: Exports>(
    socket: *mut gio::GSocket,
    messages: *mut gio::GOutputMessage,
    num_messages: c_uint,
    flags: c_int,
    timeout_us: i64,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> c_int {
    let style = const { Style::messages(&E::API, E::API.messages_with_timeout) };
    // SAFETY: forwarded contract.
    unsafe {
        glue::guard(error, -1, || {
            messages_impl(socket, messages, num_messages, flags, Some(timeout_us), cancellable, error, &style)
        })
    }
}

/// See `gsend_socket_send_messages`.
///
/// # Safety
/// GIO's contract for `g_socket_send_messages`.
pub unsafe extern "C" fn socket_send_messages<E: Exports>(
    socket: *mut gio::GSocket,
    messages: *mut gio::GOutputMessage,
    num_messages: c_uint,
    flags: c_int,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        glue::guard(error, -1, || {
            let style = const { Style::messages(&E::API, E::API.messages) };
            messages_impl(socket, messages, num_messages, flags, None, cancellable, error, &style)
        })
    }
}

/// See `gsend_datagram_based_send_messages`.
///
/// # Safety
/// GIO's contract for `g_datagram_based_send_messages`.
pub unsafe extern "C" fn datagram_based_send_messages<E: Exports>(
    datagram_based: *mut gio::GDatagramBased,
    messages: *mut gio::GOutputMessage,
    num_messages: c_uint,
    flags: c_int,
    timeout_us: i64,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> c_int {
    let outer = const { Style::messages(&E::API, E::API.datagram_based) };
    // SAFETY: forwarded contract; pointers are type-checked before use.
    unsafe {
        glue::guard(error, -1, || {
            return_val_if_fail!(outer, -1, "G_IS_DATAGRAM_BASED (datagram_based)" =>
                is_a(datagram_based.cast(), gio::g_datagram_based_get_type()));
            return_val_if_fail!(outer, -1, "num_messages == 0 || messages != NULL" =>
                num_messages == 0 || !messages.is_null());
            return_val_if_fail!(outer, -1, "cancellable == NULL || G_IS_CANCELLABLE (cancellable)" =>
                cancellable.is_null() || is_a(cancellable.cast(), cancellable_type()));
            return_val_if_fail!(outer, -1, "error == NULL || *error == NULL" => error.is_null() || (*error).is_null());
            if is_a(datagram_based.cast(), socket_type()) {
                let socket = datagram_based as *mut gio::GSocket;
                let t = gio::g_socket_get_socket_type(socket);
                if t != gio::G_SOCKET_TYPE_DATAGRAM && t != gio::G_SOCKET_TYPE_SEQPACKET {
                    set_io_error(
                        error,
                        gio::G_IO_ERROR_NOT_SUPPORTED,
                        "Cannot use datagram operations on a non-datagram socket.",
                    );
                    return -1;
                }
                if socket::timeout(socket) != 0 {
                    set_io_error(
                        error,
                        gio::G_IO_ERROR_NOT_SUPPORTED,
                        "Cannot use datagram operations on a socket with a timeout set.",
                    );
                    return -1;
                }
                let style = const { Style::messages(&E::API, E::API.datagram_based_socket) };
                return messages_impl(
                    socket,
                    messages,
                    num_messages,
                    flags,
                    Some(timeout_us),
                    cancellable,
                    error,
                    &style,
                );
            }
            vfunc_send(&outer, datagram_based, messages, num_messages, flags, timeout_us, cancellable, error)
        })
    }
}

/// Calls another `GDatagramBased` implementation's `send_messages`, with
/// GIO's checks of its result.
unsafe fn vfunc_send(
    style: &Style,
    obj: *mut gio::GDatagramBased,
    messages: *mut gio::GOutputMessage,
    num_messages: c_uint,
    flags: c_int,
    timeout: i64,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: obj is a GDatagramBased (checked); its class implements the
    // interface, so the peeked vtable is valid.
    unsafe {
        let class = (*(obj as *mut gobject::GTypeInstance)).g_class;
        let iface = gobject::g_type_interface_peek(class.cast(), gio::g_datagram_based_get_type())
            as *const gio::GDatagramBasedInterface;
        let send_messages = iface.as_ref().and_then(|i| i.send_messages);
        return_val_if_fail!(style, -1, "iface->send_messages != NULL" => send_messages.is_some());
        let Some(send_messages) = send_messages else { return -1 };
        let mut child: *mut GError = std::ptr::null_mut();
        let retval = send_messages(obj, messages, num_messages, flags, timeout, cancellable, &mut child);
        let quark = gio::g_io_error_quark();
        let is = |code: c_int| !child.is_null() && glib::g_error_matches(child, quark, code) != 0;
        // GIO's checks of the implementation's result: on a failure the
        // child's error is dropped.
        let free_child = || {
            if !child.is_null() {
                glib::g_error_free(child);
            }
        };
        return_val_if_fail!(style, -1, "(retval < 0) == (child_error != NULL)" =>
            (retval < 0) != child.is_null(), cleanup { free_child() });
        return_val_if_fail!(style, -1,
            "timeout == 0 || !g_error_matches (child_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)" =>
            timeout == 0 || !is(gio::G_IO_ERROR_WOULD_BLOCK), cleanup { free_child() });
        return_val_if_fail!(style, -1,
            "timeout > 0 || !g_error_matches (child_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)" =>
            timeout > 0 || !is(gio::G_IO_ERROR_TIMED_OUT), cleanup { free_child() });
        return_val_if_fail!(style, -1, "retval < 0 || (guint) retval <= num_messages" =>
            retval < 0 || retval as c_uint <= num_messages, cleanup { free_child() });
        return_val_if_fail!(style, -1, "!(timeout < 0 && num_messages > 0) || retval != 0" =>
            !(timeout < 0 && num_messages > 0) || retval != 0, cleanup { free_child() });
        if !child.is_null() {
            glib::g_propagate_error(error, child);
        }
        retval
    }
}

/// See `gsend_socket_send_message_with_timeout`.
///
/// # Safety
/// GIO's contract for `g_socket_send_message_with_timeout`.
pub unsafe extern "C" fn socket_send_message_with_timeout<E: Exports>(
    socket: *mut gio::GSocket,
    address: *mut gio::GSocketAddress,
    vectors: *const gio::GOutputVector,
    num_vectors: c_int,
    messages: *mut *mut gio::GSocketControlMessage,
    num_messages: c_int,
    flags: c_int,
    timeout_us: i64,
    bytes_written: *mut usize,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> gio::GPollableReturn {
    // SAFETY: forwarded contract.
    unsafe {
        if !bytes_written.is_null() {
            *bytes_written = 0;
        }
        glue::guard(error, gio::G_POLLABLE_RETURN_FAILED, || {
            message_impl(
                socket,
                address,
                vectors,
                num_vectors,
                messages,
                num_messages,
                flags,
                Some(timeout_us),
                bytes_written,
                cancellable,
                error,
                const { Style::message(&E::API, E::API.message_with_timeout) },
            )
        })
    }
}

/// The engine behind the single-message functions.
unsafe fn message_impl(
    socket: *mut gio::GSocket,
    address: *mut gio::GSocketAddress,
    vectors: *const gio::GOutputVector,
    num_vectors: c_int,
    messages: *mut *mut gio::GSocketControlMessage,
    num_messages: c_int,
    flags: c_int,
    timeout_us: Option<i64>,
    bytes_written: *mut usize,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
    style: Style,
) -> gio::GPollableReturn {
    const FAILED: gio::GPollableReturn = gio::G_POLLABLE_RETURN_FAILED;
    // SAFETY: pointers are checked before they are read, per GIO's contract.
    unsafe {
        return_val_if_fail!(style, FAILED, "G_IS_SOCKET (socket)" => is_a(socket.cast(), socket_type()));
        return_val_if_fail!(style, FAILED, "address == NULL || G_IS_SOCKET_ADDRESS (address)" =>
            address.is_null() || is_a(address.cast(), gio::g_socket_address_get_type()));
        return_val_if_fail!(style, FAILED, "num_vectors == 0 || vectors != NULL" =>
            num_vectors == 0 || !vectors.is_null());
        return_val_if_fail!(style, FAILED, "num_messages == 0 || messages != NULL" =>
            num_messages == 0 || !messages.is_null());
        return_val_if_fail!(style, FAILED, "cancellable == NULL || G_IS_CANCELLABLE (cancellable)" =>
            cancellable.is_null() || is_a(cancellable.cast(), cancellable_type()));
        return_val_if_fail!(style, FAILED, "error == NULL || *error == NULL" => error.is_null() || (*error).is_null());
        let nv = if num_vectors < 0 {
            (0..).take_while(|&i| !(*vectors.add(i)).buffer.is_null()).count()
        } else {
            num_vectors as usize
        };
        let nm = if num_messages < 0 {
            if messages.is_null() {
                0
            } else {
                (0..).take_while(|&i| !(*messages.add(i)).is_null()).count()
            }
        } else {
            num_messages as usize
        };
        let zero: u8 = 0;
        let one = gio::GOutputVector { buffer: (&zero as *const u8).cast(), size: 1 };
        let (vectors, nv) = if nv == 0 { (&one as *const gio::GOutputVector, 1) } else { (vectors, nv) };
        if nm == 0 {
            if let Ok((iov, _)) = message::vectors_of(vectors, nv) {
                match fast_one(socket, address, iov, flags, cancellable, error, &style) {
                    Fast::Sent(bytes) => {
                        if !bytes_written.is_null() {
                            *bytes_written = bytes;
                        }
                        return gio::G_POLLABLE_RETURN_OK;
                    }
                    Fast::Failed => return FAILED,
                    Fast::General => {}
                }
            }
        }
        let msg = gio::GOutputMessage {
            address,
            vectors: vectors as *mut gio::GOutputVector,
            num_vectors: nv as c_uint,
            bytes_sent: 0,
            control_messages: messages,
            num_control_messages: nm as c_uint,
        };
        let mut written = 0usize;
        let res = run(
            socket,
            1,
            flags,
            timeout_us,
            cancellable,
            error,
            style,
            |_, s, memo| message::describe(s, memo, &msg),
            |_, b| written = b,
        );
        match res {
            Res::Sent(_) => {
                if !bytes_written.is_null() {
                    *bytes_written = written;
                }
                gio::G_POLLABLE_RETURN_OK
            }
            Res::Failed => FAILED,
            Res::WouldBlock => gio::G_POLLABLE_RETURN_WOULD_BLOCK,
        }
    }
}

/// Turns a single-message result into GIO's `gssize` convention.
unsafe fn to_gssize(res: gio::GPollableReturn, written: usize, error: *mut *mut GError, style: Style) -> isize {
    match res {
        gio::G_POLLABLE_RETURN_OK => written as isize,
        gio::G_POLLABLE_RETURN_WOULD_BLOCK => {
            // SAFETY: error is NULL or valid.
            unsafe { would_block(error, style) };
            -1
        }
        _ => -1,
    }
}

/// See `gsend_socket_send_message`.
///
/// # Safety
/// GIO's contract for `g_socket_send_message`.
pub unsafe extern "C" fn socket_send_message<E: Exports>(
    socket: *mut gio::GSocket,
    address: *mut gio::GSocketAddress,
    vectors: *mut gio::GOutputVector,
    num_vectors: c_int,
    messages: *mut *mut gio::GSocketControlMessage,
    num_messages: c_int,
    flags: c_int,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> isize {
    // SAFETY: forwarded contract.
    unsafe {
        glue::guard(error, -1, || {
            let style = const { Style::message(&E::API, E::API.message) };
            let mut written = 0usize;
            let r = message_impl(
                socket,
                address,
                vectors,
                num_vectors,
                messages,
                num_messages,
                flags,
                None,
                &mut written,
                cancellable,
                error,
                style,
            );
            to_gssize(r, written, error, style)
        })
    }
}

/// See `gsend_socket_send_to`.
///
/// # Safety
/// GIO's contract for `g_socket_send_to`.
pub unsafe extern "C" fn socket_send_to<E: Exports>(
    socket: *mut gio::GSocket,
    address: *mut gio::GSocketAddress,
    buffer: *const c_char,
    size: usize,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> isize {
    let mut v = gio::GOutputVector { buffer: buffer.cast(), size };
    // SAFETY: forwarded contract.
    unsafe { socket_send_message::<E>(socket, address, &mut v, 1, std::ptr::null_mut(), 0, 0, cancellable, error) }
}

/// See `gsend_socket_send_with_blocking`.
///
/// # Safety
/// GIO's contract for `g_socket_send_with_blocking`.
pub unsafe extern "C" fn socket_send_with_blocking<E: Exports>(
    socket: *mut gio::GSocket,
    buffer: *const c_char,
    size: usize,
    blocking: glib::gboolean,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> isize {
    let timeout_us = if blocking != 0 { -1 } else { 0 };
    // SAFETY: forwarded contract.
    unsafe {
        glue::guard(error, -1, || {
            data_impl(socket, buffer, size, Some(timeout_us), cancellable, error, const { Style::data(&E::API) })
        })
    }
}

/// See `gsend_socket_send`.
///
/// # Safety
/// GIO's contract for `g_socket_send`.
pub unsafe extern "C" fn socket_send<E: Exports>(
    socket: *mut gio::GSocket,
    buffer: *const c_char,
    size: usize,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> isize {
    // SAFETY: forwarded contract.
    unsafe {
        glue::guard(error, -1, || {
            data_impl(socket, buffer, size, None, cancellable, error, const { Style::data(&E::API) })
        })
    }
}

/// The engine behind `send` and `send_with_blocking`: one buffer to the
/// connected peer.
unsafe fn data_impl(
    socket: *mut gio::GSocket,
    buffer: *const c_char,
    size: usize,
    timeout_us: Option<i64>,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
    style: Style,
) -> isize {
    // SAFETY: pointers are checked before they are read.
    unsafe {
        return_val_if_fail!(style, -1, "G_IS_SOCKET (socket) && buffer != NULL" =>
            is_a(socket.cast(), socket_type()) && !buffer.is_null());
        return_val_if_fail!(style, -1, "cancellable == NULL || G_IS_CANCELLABLE (cancellable)" =>
            cancellable.is_null() || is_a(cancellable.cast(), cancellable_type()));
        return_val_if_fail!(style, -1, "error == NULL || *error == NULL" => error.is_null() || (*error).is_null());
        let v = [libc::iovec { iov_base: buffer as *mut libc::c_void, iov_len: size }];
        if size <= isize::MAX as usize {
            match fast_one(socket, std::ptr::null_mut(), &v, 0, cancellable, error, &style) {
                Fast::Sent(bytes) => return bytes as isize,
                Fast::Failed => return -1,
                Fast::General => {}
            }
        }
        let mut written = 0usize;
        let res = run(
            socket,
            1,
            0,
            timeout_us,
            cancellable,
            error,
            style,
            |_, s, _| {
                // `v` outlives the send (push's contract).
                s.push(gsend_engine::Message {
                    dest: gsend_engine::Dest::Connected,
                    iov: &v,
                    control: None,
                    len: size,
                });
                Ok(())
            },
            |_, b| written = b,
        );
        match res {
            Res::Sent(_) => written as isize,
            Res::Failed => -1,
            Res::WouldBlock => {
                would_block(error, style);
                -1
            }
        }
    }
}

/// See `gsend_socket_send_datagrams`.
///
/// # Safety
/// `datagrams` is NULL or points to `n_datagrams` GBytes pointers; the
/// other arguments follow GIO's conventions.
pub unsafe extern "C" fn socket_send_datagrams<E: Exports>(
    socket: *mut gio::GSocket,
    address: *mut gio::GSocketAddress,
    datagrams: *mut *mut glib::GBytes,
    n_datagrams: c_uint,
    flags: c_int,
    timeout_us: i64,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> c_int {
    let style = const { Style::messages(&E::API, E::API.datagrams) };
    // SAFETY: pointers are checked before they are read.
    unsafe {
        glue::guard(error, -1, || {
            let n = n_datagrams as usize;
            if !batch_preconditions(&style, socket, !datagrams.is_null(), n, cancellable, error) {
                return -1;
            }
            return_val_if_fail!(style, -1, "address == NULL || G_IS_SOCKET_ADDRESS (address)" =>
                address.is_null() || is_a(address.cast(), gio::g_socket_address_get_type()));
            return_val_if_fail!(style, -1, "datagrams[i] != NULL" => (0..n).all(|i| !(*datagrams.add(i)).is_null()));
            let res = run(
                socket,
                n,
                flags,
                Some(timeout_us),
                cancellable,
                error,
                style,
                |i, s, memo| message::describe_datagram(s, memo, address, *datagrams.add(i)),
                |_, _| {},
            );
            match res {
                Res::Sent(k) => k.min(c_int::MAX as usize) as c_int,
                Res::Failed => -1,
                Res::WouldBlock => {
                    would_block(error, style);
                    -1
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    //! Which check fires first when several arguments are bad, and with
    //! which text, captured through a GLib log handler for each domain.

    use std::cell::RefCell;
    use std::ffi::{c_void, CStr};
    use std::ptr::null_mut;
    use std::sync::Once;

    use super::*;
    use crate::names::{GSend, Gio};

    thread_local! {
        static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    unsafe extern "C" fn capture(
        domain: *const c_char,
        _level: glib::GLogLevelFlags,
        message: *const c_char,
        _data: *mut c_void,
    ) {
        // SAFETY: GLib passes NUL-terminated strings (the domain may be NULL).
        let (domain, message) = unsafe {
            let d = if domain.is_null() { "" } else { CStr::from_ptr(domain).to_str().unwrap_or("") };
            (d.to_owned(), CStr::from_ptr(message).to_string_lossy().into_owned())
        };
        SEEN.with(|s| s.borrow_mut().push(format!("{domain}: {message}")));
    }

    /// Runs `f` and returns the criticals it logged in this thread.
    fn criticals(f: impl FnOnce()) -> Vec<String> {
        static HANDLERS: Once = Once::new();
        HANDLERS.call_once(|| {
            for domain in [c"GSend", c"GLib-GIO"] {
                // SAFETY: a static domain and a handler that lives forever.
                unsafe {
                    glib::g_log_set_handler(domain.as_ptr(), glib::G_LOG_LEVEL_CRITICAL, Some(capture), null_mut())
                };
            }
        });
        SEEN.with(|s| s.borrow_mut().clear());
        f();
        SEEN.with(|s| s.take())
    }

    fn assertion(domain: &str, func: &str, text: &str) -> Vec<String> {
        vec![format!("{domain}: {func}: assertion '{text}' failed")]
    }

    /// A UDP GSocket, unbound; freed by the caller.
    fn udp() -> *mut gio::GSocket {
        // SAFETY: plain constructor; a NULL error location.
        let s = unsafe {
            gio::g_socket_new(
                gio::G_SOCKET_FAMILY_IPV4,
                gio::G_SOCKET_TYPE_DATAGRAM,
                gio::G_SOCKET_PROTOCOL_UDP,
                null_mut(),
            )
        };
        assert!(!s.is_null());
        s
    }

    fn unref(s: *mut gio::GSocket) {
        // SAFETY: s is a GSocket this test made.
        unsafe { gobject::g_object_unref(s.cast()) };
    }

    #[test]
    fn the_macro_reports_its_own_check() {
        const STYLE: Style = Style::messages(&GSend::API, GSend::API.messages);
        fn plain(count: i32) -> i32 {
            return_val_if_fail!(STYLE, -1, count > 0 && count < 10);
            count
        }
        fn worded(count: i32, cleaned: &mut bool) -> i32 {
            return_val_if_fail!(STYLE, -2, "num_messages > 0" => count > 0, cleanup { *cleaned = true; });
            count
        }
        let f = "gsend_socket_send_messages";
        assert!(criticals(|| assert_eq!(plain(3), 3)).is_empty());
        assert_eq!(criticals(|| assert_eq!(plain(0), -1)), assertion("GSend", f, "count > 0 && count < 10"));
        let mut cleaned = false;
        assert_eq!(criticals(|| assert_eq!(worded(0, &mut cleaned), -2)), assertion("GSend", f, "num_messages > 0"));
        assert!(cleaned);
    }

    #[test]
    fn batch_socket_check_comes_before_messages_check() {
        let mut r = 0;
        // SAFETY: the checks fail before any pointer is read.
        let seen = criticals(|| unsafe {
            r = socket_send_messages::<GSend>(null_mut(), null_mut(), 1, 0, null_mut(), null_mut())
        });
        assert_eq!(r, -1);
        assert_eq!(seen, assertion("GSend", "gsend_socket_send_messages", "G_IS_SOCKET (socket)"));
    }

    #[test]
    fn batch_checks_in_order_with_gio_names() {
        let s = udp();
        let not_cancellable = s as *mut gio::GCancellable;
        let mut set: *mut GError = null_mut();
        // SAFETY: set_io_error on a valid, unset location.
        unsafe { set_io_error(&mut set, gio::G_IO_ERROR_FAILED, "set before") };
        let mut msg = gio::GOutputMessage {
            address: null_mut(),
            vectors: null_mut(),
            num_vectors: 0,
            bytes_sent: 0,
            control_messages: null_mut(),
            num_control_messages: 0,
        };
        let f = "g_socket_send_messages_with_timeout";
        // SAFETY: each call fails a check before reading the messages.
        unsafe {
            // NULL messages and a bad cancellable and a set error: messages first.
            let seen = criticals(|| {
                socket_send_messages::<Gio>(s, null_mut(), 1, 0, not_cancellable, &mut set);
            });
            assert_eq!(seen, assertion("GLib-GIO", f, "num_messages == 0 || messages != NULL"));
            // A bad cancellable and a set error: the cancellable first.
            let seen = criticals(|| {
                socket_send_messages_with_timeout::<Gio>(s, &mut msg, 1, 0, -1, not_cancellable, &mut set);
            });
            assert_eq!(seen, assertion("GLib-GIO", f, "cancellable == NULL || G_IS_CANCELLABLE (cancellable)"));
            let seen = criticals(|| {
                socket_send_messages::<Gio>(s, &mut msg, 1, 0, null_mut(), &mut set);
            });
            assert_eq!(seen, assertion("GLib-GIO", f, "error == NULL || *error == NULL"));
            // No messages and no vector: nothing to check, nothing sent.
            let seen = criticals(|| {
                assert_eq!(socket_send_messages::<Gio>(s, null_mut(), 0, 0, null_mut(), null_mut()), 0);
            });
            assert!(seen.is_empty(), "{seen:?}");
            glib::g_error_free(set);
        }
        unref(s);
    }

    #[test]
    fn single_message_checks_in_order() {
        let s = udp();
        let bad_address = s as *mut gio::GSocketAddress;
        let f = "gsend_socket_send_message";
        // SAFETY: each call fails a check before reading anything else.
        unsafe {
            let seen = criticals(|| {
                socket_send_message::<GSend>(
                    null_mut(),
                    bad_address,
                    null_mut(),
                    1,
                    null_mut(),
                    1,
                    0,
                    null_mut(),
                    null_mut(),
                );
            });
            assert_eq!(seen, assertion("GSend", f, "G_IS_SOCKET (socket)"));
            let seen = criticals(|| {
                socket_send_message::<GSend>(s, bad_address, null_mut(), 1, null_mut(), 1, 0, null_mut(), null_mut());
            });
            assert_eq!(seen, assertion("GSend", f, "address == NULL || G_IS_SOCKET_ADDRESS (address)"));
            let seen = criticals(|| {
                socket_send_message::<GSend>(s, null_mut(), null_mut(), 1, null_mut(), 1, 0, null_mut(), null_mut());
            });
            assert_eq!(seen, assertion("GSend", f, "num_vectors == 0 || vectors != NULL"));
            let mut v = gio::GOutputVector { buffer: c"x".as_ptr().cast(), size: 1 };
            let seen = criticals(|| {
                socket_send_message::<GSend>(s, null_mut(), &mut v, 1, null_mut(), 1, 0, null_mut(), null_mut());
            });
            assert_eq!(seen, assertion("GSend", f, "num_messages == 0 || messages != NULL"));
        }
        unref(s);
    }

    #[test]
    fn data_and_datagram_based_checks() {
        let s = udp();
        // SAFETY: each call fails its first check.
        unsafe {
            let seen = criticals(|| {
                socket_send::<Gio>(s, std::ptr::null(), 1, null_mut(), null_mut());
            });
            assert_eq!(
                seen,
                assertion("GLib-GIO", "g_socket_send_with_timeout", "G_IS_SOCKET (socket) && buffer != NULL")
            );
            let seen = criticals(|| {
                socket_send_with_blocking::<GSend>(null_mut(), c"x".as_ptr(), 1, 1, null_mut(), null_mut());
            });
            assert_eq!(
                seen,
                assertion("GSend", "gsend_socket_send_with_blocking", "G_IS_SOCKET (socket) && buffer != NULL")
            );
            let seen = criticals(|| {
                datagram_based_send_messages::<Gio>(null_mut(), null_mut(), 1, 0, -1, null_mut(), null_mut());
            });
            assert_eq!(
                seen,
                assertion("GLib-GIO", "g_datagram_based_send_messages", "G_IS_DATAGRAM_BASED (datagram_based)")
            );
            let seen = criticals(|| {
                datagram_based_send_messages::<Gio>(s.cast(), null_mut(), 1, 0, -1, null_mut(), null_mut());
            });
            assert_eq!(
                seen,
                assertion("GLib-GIO", "g_datagram_based_send_messages", "num_messages == 0 || messages != NULL")
            );
            let mut d: [*mut glib::GBytes; 1] = [null_mut()];
            let seen = criticals(|| {
                socket_send_datagrams::<GSend>(s, null_mut(), d.as_mut_ptr(), 1, 0, 0, null_mut(), null_mut());
            });
            assert_eq!(seen, assertion("GSend", "gsend_socket_send_datagrams", "datagrams[i] != NULL"));
        }
        unref(s);
    }
}
