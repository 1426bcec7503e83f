//! gsend's C edge: GIO's send functions over the gsend engine.
//!
//! Every public function here has exactly the signature of the GIO function
//! it replaces (plus `socket_send_messages_with_timeout`, which GIO keeps
//! private, and gsend's own additions). They are not exported under any
//! name by this crate: the `gsend` library exports them as `gsend_*`, the
//! preload shim under GIO's own names. Each one checks its arguments like
//! `g_return_val_if_fail`, runs inside a panic boundary, and reports runtime
//! failures as `G_IO_ERROR` GErrors.

use std::ffi::{c_char, c_int, c_uint, CStr};
use std::time::{Duration, Instant};

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;
use gsend_engine::plan::{GsoPolicy, Scratch, CHUNK};
use gsend_engine::wait::{self, Stop, Timeout, Waiter, Woke};
use gsend_engine::{send, with_scratch, Failure, One, SendRequest};

mod addrcache;
pub mod glue;
mod gso;
pub mod message;
pub mod names;
pub mod socket;

use glue::{is_a, set_io_error};
use message::{AddrMemo, DescribeError};
use names::{Api, Exports};

pub use gso::{socket_get_gso, socket_get_gso_max_bytes, socket_set_gso, socket_set_gso_max_bytes};

type GError = glib::GError;

/// How a failed send is worded and coded.
#[derive(Clone, Copy)]
struct Style {
    /// The log domain for criticals.
    domain: &'static CStr,
    /// The function name for criticals.
    func: &'static CStr,
    /// `EPIPE` reports `G_IO_ERROR_CLOSED` (the `*_send_messages` rule)
    /// rather than GIO's `G_IO_ERROR_BROKEN_PIPE`.
    epipe_closed: bool,
    /// Prefix of an errno's message; the message index follows when `indexed`.
    what: &'static str,
    indexed: bool,
}

impl Style {
    const fn messages(api: &Api, func: &'static CStr) -> Style {
        Style { domain: api.domain, func, epipe_closed: true, what: "Error sending message", indexed: true }
    }
    const fn message(api: &Api, func: &'static CStr) -> Style {
        Style { domain: api.domain, func, epipe_closed: false, what: "Error sending message", indexed: false }
    }
    const fn data(api: &Api) -> Style {
        Style { domain: api.domain, func: api.data, epipe_closed: false, what: "Error sending data", indexed: false }
    }
    /// Emits the critical `g_return_val_if_fail` would for `expr`.
    fn critical(&self, expr: &CStr) {
        glue::critical(self.domain, self.func, expr)
    }
}

/// The result of one engine run, before it is turned into GIO's return
/// conventions.
enum Res {
    Sent(usize),
    /// Nothing sent; `error` is set or a critical was emitted.
    Failed,
    /// Nothing sent, the socket is full, and the call may not wait.
    WouldBlock,
}

/// Waits with GIO's semantics: the cancellable wakes the wait, the socket's
/// own timeout bounds each wait.
struct GioWaiter {
    socket: *mut gio::GSocket,
    cancellable: *mut gio::GCancellable,
    pollfd: Option<glib::GPollFD>,
    made_fd: bool,
    socket_timeout: Option<Option<Duration>>,
}

impl GioWaiter {
    fn new(socket: *mut gio::GSocket, cancellable: *mut gio::GCancellable) -> Self {
        GioWaiter { socket, cancellable, pollfd: None, made_fd: false, socket_timeout: None }
    }

    fn is_cancelled(&self) -> bool {
        // SAFETY: the cancellable was type-checked by the caller.
        !self.cancellable.is_null() && unsafe { gio::g_cancellable_is_cancelled(self.cancellable) } != 0
    }
}

impl Waiter for GioWaiter {
    fn wait(&mut self, fd: i32, deadline: Option<Instant>) -> Result<(), Stop> {
        if self.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        if !self.cancellable.is_null() && !self.made_fd {
            self.made_fd = true;
            let mut p = glib::GPollFD { fd: -1, events: 0, revents: 0 };
            // SAFETY: a valid cancellable and out location.
            if unsafe { gio::g_cancellable_make_pollfd(self.cancellable, &mut p) } != 0 {
                self.pollfd = Some(p);
            }
        }
        let socket = self.socket;
        let per_wait = *self.socket_timeout.get_or_insert_with(|| {
            // SAFETY: the socket was type-checked by the caller.
            let secs = unsafe { socket::timeout(socket) };
            (secs > 0).then(|| Duration::from_secs(secs as u64))
        });
        let deadline = match (deadline, per_wait) {
            (d, None) => d,
            (None, Some(t)) => Some(Instant::now() + t),
            (Some(d), Some(t)) => Some(d.min(Instant::now() + t)),
        };
        loop {
            return match wait::wait_writable(fd, self.pollfd.map(|p| p.fd), deadline) {
                Ok(Woke::Writable) => Ok(()),
                // A signal: if the socket was closed meanwhile, back to the
                // engine, whose `current_fd` says so; else wait on, with
                // the same deadline (the socket's timeout bounds the whole
                // wait, not the time since the last signal).
                // SAFETY: the socket was type-checked by the caller.
                Ok(Woke::Interrupted) if unsafe { socket::state(socket) }.closed => Ok(()),
                Ok(Woke::Interrupted) => continue,
                Ok(Woke::Extra) if self.is_cancelled() => Err(Stop::Cancelled),
                // Woken by a cancellable that was reset meanwhile: try again.
                Ok(Woke::Extra) => Ok(()),
                Err(stop) => Err(stop),
            };
        }
    }

    /// The socket may have been closed by another thread while the send
    /// waited (and its descriptor number taken by a new socket): read its
    /// state again, as GIO reads its fd field before every system call.
    fn current_fd(&mut self, _fd: i32) -> Result<i32, Stop> {
        // SAFETY: the socket was type-checked by the caller and is alive
        // for the call.
        let st = unsafe { socket::state(self.socket) };
        if st.closed || st.fd < 0 {
            return Err(Stop::Closed);
        }
        Ok(st.fd)
    }

    #[inline]
    fn cancelled(&mut self) -> bool {
        self.is_cancelled()
    }
}

impl Drop for GioWaiter {
    fn drop(&mut self) {
        if self.pollfd.is_some() {
            // SAFETY: make_pollfd succeeded on this cancellable.
            unsafe { gio::g_cancellable_release_fd(self.cancellable) };
        }
    }
}

/// Checks done by every send before any system call: closed socket,
/// cancellation.
unsafe fn check_socket(st: &socket::State, cancellable: *mut gio::GCancellable, error: *mut *mut GError) -> bool {
    if st.closed {
        // SAFETY: error is NULL or valid.
        unsafe { set_io_error(error, gio::G_IO_ERROR_CLOSED, "Socket is already closed") };
        return false;
    }
    if st.fd < 0 {
        // SAFETY: as above.
        unsafe { set_io_error(error, gio::G_IO_ERROR_NOT_INITIALIZED, "Invalid socket, not initialized") };
        return false;
    }
    // SAFETY: as above; cancellable is not NULL, so a GCancellable.
    cancellable.is_null() || unsafe { gio::g_cancellable_set_error_if_cancelled(cancellable, error) == 0 }
}

/// What the fast path did.
enum Fast {
    /// Sent: bytes.
    Sent(usize),
    /// Failed with the error set.
    Failed,
    /// Nothing sent; the general path must run.
    General,
}

/// The fast path for one datagram without control messages: sends it at
/// once when nothing stands in the way (socket open, not cancelled, the
/// address already converted in this thread's cache) and the kernel takes
/// or refuses it without waiting. `Fast::General` means nothing was sent
/// and nothing was reported: the general path runs, with every check,
/// wait and error of the rules.
///
/// # Safety
/// `socket` is a GSocket; `address` NULL or a GSocketAddress; `cancellable`
/// NULL or a GCancellable; the vectors' buffers are readable; `error` NULL
/// or an unset GError location.
#[inline]
unsafe fn fast_one(
    socket: *mut gio::GSocket,
    address: *mut gio::GSocketAddress,
    iov: &[libc::iovec],
    flags: c_int,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
    style: &Style,
) -> Fast {
    // SAFETY: per the contract.
    let st = unsafe { socket::state(socket) };
    if st.closed || st.fd < 0 {
        return Fast::General;
    }
    // SAFETY: cancellable is a GCancellable.
    if !cancellable.is_null() && unsafe { gio::g_cancellable_is_cancelled(cancellable) } != 0 {
        return Fast::General;
    }
    let one = if address.is_null() {
        // SAFETY: `iov`'s buffers are readable, per the contract.
        unsafe { gsend_engine::try_send_one(st.fd, None, iov, flags) }
    } else {
        match with_scratch(|s| {
            addrcache::sync(s);
            // SAFETY: as above.
            s.cache.get(address as usize).map(|a| unsafe { gsend_engine::try_send_one(st.fd, Some(a), iov, flags) })
        }) {
            Some(one) => one,
            None => return Fast::General,
        }
    };
    match one {
        One::Sent(n) => Fast::Sent(n),
        One::Full | One::Interrupted => Fast::General,
        One::Failed(errno) => {
            // SAFETY: error is NULL or unset.
            unsafe { os_error(error, *style, 0, errno) };
            Fast::Failed
        }
    }
}

/// Sets the error for message `index` refused by the kernel with `errno`.
unsafe fn os_error(error: *mut *mut GError, style: Style, index: usize, errno: i32) {
    let code =
        if errno == libc::EPIPE && style.epipe_closed { gio::G_IO_ERROR_CLOSED } else { glue::io_error_code(errno) };
    let at = if style.indexed { format!(" {index}") } else { String::new() };
    // SAFETY: error is NULL or unset.
    unsafe { set_io_error(error, code, &format!("{}{at}: {}", style.what, glue::strerror(errno))) }
}

/// Sends `n` messages described by `describe`, with GIO's rules. Kept out
/// of line: a one-message call that takes the fast path does not pay for
/// its stack frame.
#[inline(never)]
unsafe fn run(
    socket: *mut gio::GSocket,
    n: usize,
    flags: c_int,
    timeout_us: Option<i64>,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
    style: Style,
    mut describe: impl FnMut(usize, &mut Scratch, &mut AddrMemo) -> Result<(), DescribeError>,
    report: impl FnMut(usize, usize),
) -> Res {
    // SAFETY: socket was type-checked by the caller.
    let st = unsafe { socket::state(socket) };
    // SAFETY: arguments were checked by the caller.
    if !unsafe { check_socket(&st, cancellable, error) } {
        return Res::Failed;
    }
    if n == 0 {
        return Res::Sent(0);
    }
    // Without an explicit timeout, the socket's blocking flag decides.
    let timeout_us = timeout_us.unwrap_or(if st.blocking { -1 } else { 0 });
    // SAFETY: socket is a GSocket.
    let gso = if n > 1 && st.udp { unsafe { gso::policy(socket, st.fd) } } else { GsoPolicy::OFF };
    let req = SendRequest { fd: st.fd, n, flags, timeout: Timeout::from_micros(timeout_us, Instant::now), gso };
    let mut waiter = GioWaiter::new(socket, cancellable);
    let mut memo = AddrMemo::default();
    let out = with_scratch(|s| {
        addrcache::sync(s);
        send(
            s,
            &req,
            &mut waiter,
            |i, s| {
                if i % CHUNK == 0 {
                    memo.reset();
                }
                describe(i, s, &mut memo)
            },
            report,
        )
    });
    if out.gso_refused {
        // SAFETY: socket is a GSocket.
        unsafe { gso::refused(socket) };
    }
    let failure = match out.failure {
        None => return Res::Sent(out.sent),
        Some(f) => f,
    };
    if out.sent > 0 {
        if let Failure::Describe { error: DescribeError::GError(e), .. } = failure {
            // SAFETY: we own e.
            unsafe { glib::g_error_free(e) };
        }
        return Res::Sent(out.sent);
    }
    let at = |i: usize| if style.indexed { format!(" {i}") } else { String::new() };
    // SAFETY (all arms): error is NULL or a valid, unset GError**.
    match failure {
        Failure::Describe { error: DescribeError::Programming(expr), .. } => {
            style.critical(expr);
        }
        // SAFETY: see above.
        Failure::Describe { error: DescribeError::GError(e), .. } => unsafe { glib::g_propagate_error(error, e) },
        // SAFETY: see above.
        Failure::Describe { index, error: DescribeError::Invalid(what) } => unsafe {
            set_io_error(
                error,
                gio::G_IO_ERROR_INVALID_ARGUMENT,
                &format!("Unable to send message{}: {what}", at(index)),
            )
        },
        // SAFETY: see above.
        Failure::Os { index, errno } => unsafe { os_error(error, style, index, errno) },
        Failure::WouldBlock { .. } => return Res::WouldBlock,
        // SAFETY: see above.
        Failure::Wait { stop: Stop::Closed, .. } => unsafe {
            set_io_error(error, gio::G_IO_ERROR_CLOSED, "Socket is already closed")
        },
        // Memory is short: a literal, no formatting.
        // SAFETY: see above.
        Failure::NoSpace { .. } | Failure::Describe { error: DescribeError::NoSpace, .. } => unsafe {
            glue::set_io_error_literal(error, gio::G_IO_ERROR_NO_SPACE, c"Not enough memory to send")
        },
        // SAFETY: see above.
        Failure::Wait { stop: Stop::TimedOut, .. } => unsafe {
            set_io_error(error, gio::G_IO_ERROR_TIMED_OUT, "Socket I/O timed out")
        },
        // SAFETY: see above.
        Failure::Wait { stop: Stop::Cancelled, .. } => unsafe {
            if gio::g_cancellable_set_error_if_cancelled(cancellable, error) == 0 {
                set_io_error(error, gio::G_IO_ERROR_CANCELLED, "Operation was cancelled");
            }
        },
        // SAFETY: see above.
        Failure::Wait { stop: Stop::Os(errno), .. } => unsafe {
            set_io_error(
                error,
                glue::io_error_code(errno),
                &format!("Waiting for socket condition: {}", glue::strerror(errno)),
            )
        },
    }
    Res::Failed
}

/// Sets the `G_IO_ERROR_WOULD_BLOCK` error of a batch that could not start.
unsafe fn would_block(error: *mut *mut GError, style: Style) {
    let at = if style.indexed { " 0" } else { "" };
    // SAFETY: error is NULL or valid.
    unsafe {
        set_io_error(
            error,
            gio::G_IO_ERROR_WOULD_BLOCK,
            &format!("{}{at}: {}", style.what, glue::strerror(libc::EAGAIN)),
        )
    }
}

use socket::socket_type;

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
    socket_type();
    cancellable_type();
    gso::enabled_by_env();
    gso::max_bytes_by_env();
}

#[inline]
fn cancellable_type() -> glib::GType {
    static T: glue::Cached = glue::Cached::new();
    // SAFETY: a type getter.
    T.get(|| unsafe { gio::g_cancellable_get_type() })
}

/// The argument checks shared by the batch functions. Emits the critical
/// and returns false on the first failure.
#[inline(always)]
unsafe fn batch_preconditions(
    style: &Style,
    socket: *mut gio::GSocket,
    has_messages: bool,
    n: usize,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
) -> bool {
    // SAFETY: pointers are NULL or GObjects per the API contract.
    let failed = unsafe {
        if !is_a(socket.cast(), socket_type()) {
            c"G_IS_SOCKET (socket)"
        } else if n > 0 && !has_messages {
            c"num_messages == 0 || messages != NULL"
        } else if !(cancellable.is_null() || is_a(cancellable.cast(), cancellable_type())) {
            c"cancellable == NULL || G_IS_CANCELLABLE (cancellable)"
        } else if !(error.is_null() || (*error).is_null()) {
            c"error == NULL || *error == NULL"
        } else {
            return true;
        }
    };
    style.critical(failed);
    false
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
            let iface_type = gio::g_datagram_based_get_type();
            let checks: [(bool, &'static CStr); 4] = [
                (is_a(datagram_based.cast(), iface_type), c"G_IS_DATAGRAM_BASED (datagram_based)"),
                (num_messages == 0 || !messages.is_null(), c"num_messages == 0 || messages != NULL"),
                (
                    cancellable.is_null() || is_a(cancellable.cast(), cancellable_type()),
                    c"cancellable == NULL || G_IS_CANCELLABLE (cancellable)",
                ),
                (error.is_null() || (*error).is_null(), c"error == NULL || *error == NULL"),
            ];
            for (ok, expr) in checks {
                if !ok {
                    outer.critical(expr);
                    return -1;
                }
            }
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
        let Some(send_messages) = iface.as_ref().and_then(|i| i.send_messages) else {
            style.critical(c"iface->send_messages != NULL");
            return -1;
        };
        let mut child: *mut GError = std::ptr::null_mut();
        let retval = send_messages(obj, messages, num_messages, flags, timeout, cancellable, &mut child);
        let quark = gio::g_io_error_quark();
        let is = |code: c_int| !child.is_null() && glib::g_error_matches(child, quark, code) != 0;
        let post: [(bool, &'static CStr); 5] = [
            ((retval < 0) != child.is_null(), c"(retval < 0) == (child_error != NULL)"),
            (
                timeout == 0 || !is(gio::G_IO_ERROR_WOULD_BLOCK),
                c"timeout == 0 || !g_error_matches (child_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)",
            ),
            (
                timeout > 0 || !is(gio::G_IO_ERROR_TIMED_OUT),
                c"timeout > 0 || !g_error_matches (child_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)",
            ),
            (retval < 0 || retval as c_uint <= num_messages, c"retval < 0 || (guint) retval <= num_messages"),
            (!(timeout < 0 && num_messages > 0) || retval != 0, c"!(timeout < 0 && num_messages > 0) || retval != 0"),
        ];
        for (ok, expr) in post {
            if !ok {
                style.critical(expr);
                if !child.is_null() {
                    glib::g_error_free(child);
                }
                return -1;
            }
        }
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
        let checks: [(bool, &'static CStr); 6] = [
            (is_a(socket.cast(), socket_type()), c"G_IS_SOCKET (socket)"),
            (
                address.is_null() || is_a(address.cast(), gio::g_socket_address_get_type()),
                c"address == NULL || G_IS_SOCKET_ADDRESS (address)",
            ),
            (num_vectors == 0 || !vectors.is_null(), c"num_vectors == 0 || vectors != NULL"),
            (num_messages == 0 || !messages.is_null(), c"num_messages == 0 || messages != NULL"),
            (
                cancellable.is_null() || is_a(cancellable.cast(), cancellable_type()),
                c"cancellable == NULL || G_IS_CANCELLABLE (cancellable)",
            ),
            (error.is_null() || (*error).is_null(), c"error == NULL || *error == NULL"),
        ];
        for (ok, expr) in checks {
            if !ok {
                style.critical(expr);
                return FAILED;
            }
        }
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
        let checks: [(bool, &'static CStr); 3] = [
            (is_a(socket.cast(), socket_type()) && !buffer.is_null(), c"G_IS_SOCKET (socket) && buffer != NULL"),
            (
                cancellable.is_null() || is_a(cancellable.cast(), cancellable_type()),
                c"cancellable == NULL || G_IS_CANCELLABLE (cancellable)",
            ),
            (error.is_null() || (*error).is_null(), c"error == NULL || *error == NULL"),
        ];
        for (ok, expr) in checks {
            if !ok {
                style.critical(expr);
                return -1;
            }
        }
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
            if !(address.is_null() || is_a(address.cast(), gio::g_socket_address_get_type())) {
                style.critical(c"address == NULL || G_IS_SOCKET_ADDRESS (address)");
                return -1;
            }
            if n > 0 && (0..n).any(|i| (*datagrams.add(i)).is_null()) {
                style.critical(c"datagrams[i] != NULL");
                return -1;
            }
            let mut iov = libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 };
            let res = run(
                socket,
                n,
                flags,
                Some(timeout_us),
                cancellable,
                error,
                style,
                |i, s, memo| {
                    let mut len = 0usize;
                    let data = glib::g_bytes_get_data(*datagrams.add(i), &mut len);
                    iov.iov_base = data as *mut libc::c_void;
                    iov.iov_len = len;
                    let dest = message::dest_of(s, memo, address)?;
                    // The one vector is rewritten for every datagram: copied.
                    s.push_copied(gsend_engine::Message { dest, iov: std::slice::from_ref(&iov), control: None, len });
                    Ok(())
                },
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
