//! The batch run: the socket's state and the call's checks, the
//! `SendRequest` handed to the engine with GIO's waiter, and the engine's
//! outcome reported with GIO's conventions (count sent, or a GError).

use std::ffi::c_int;
use std::time::Instant;

use gio_sys as gio;
use glib_sys as glib;
use gsend_engine::plan::{GsoPolicy, Scratch, CHUNK};
use gsend_engine::wait::{Stop, Timeout};
use gsend_engine::{send, with_scratch, Failure, SendRequest};

use crate::errors::{os_error, Style};
use crate::glue::{self, set_io_error};
use crate::message::{AddrMemo, DescribeError};
use crate::waiter::GioWaiter;
use crate::{addrcache, debug, gso, socket, stats};

type GError = glib::GError;

/// The result of one engine run, before it is turned into GIO's return
/// conventions.
pub(crate) enum Res {
    Sent(usize),
    /// Nothing sent; `error` is set or a critical was emitted.
    Failed,
    /// Nothing sent, the socket is full, and the call may not wait.
    WouldBlock,
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

/// Sends `n` messages described by `describe`, with GIO's rules. Kept out
/// of line: a one-message call that takes the fast path does not pay for
/// its stack frame.
#[inline(never)]
pub(crate) unsafe fn run(
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
        // SAFETY: socket is a GSocket.
        unsafe { stats::of(s, socket) };
        let out = send(
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
        );
        if debug::enabled() {
            // SAFETY: socket is a GSocket.
            unsafe { debug::after_run(socket, s, out.gso_refused, flags, n, gso.enabled) };
        }
        out
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
                &format!("Unable to send message{}: {what}", style.at(index)),
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
