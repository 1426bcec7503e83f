//! Waiting with GIO's semantics: `poll` on the socket and the
//! cancellable's descriptor, the socket's own timeout bounding each wait,
//! and the socket's state read again after a wait (`current_fd`), since
//! another thread may have closed it meanwhile.

use std::time::{Duration, Instant};

use gio_sys as gio;
use glib_sys as glib;
use gsend_engine::wait::{self, Stop, Waiter, Woke};

use crate::socket;

/// Waits with GIO's semantics: the cancellable wakes the wait, the socket's
/// own timeout bounds each wait.
pub(crate) struct GioWaiter {
    socket: *mut gio::GSocket,
    cancellable: *mut gio::GCancellable,
    pollfd: Option<glib::GPollFD>,
    made_fd: bool,
    socket_timeout: Option<Option<Duration>>,
}

impl GioWaiter {
    pub(crate) fn new(socket: *mut gio::GSocket, cancellable: *mut gio::GCancellable) -> Self {
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
